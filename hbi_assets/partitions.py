"""Each book in the books bucket is one partition, added and removed by the MinIO sensor."""

import dagster as dg

books_partitions = dg.DynamicPartitionsDefinition(name="books")
