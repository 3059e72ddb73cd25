"""Books as HBI sees them: ids from object keys, the extracted book, the bucket listing."""
