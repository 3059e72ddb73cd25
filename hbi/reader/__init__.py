"""The reader: a book shown where a hit was found, for the web reader and the API.

`pages` gives a PDF's page (text layer with the passage marked, image), read by `pdf_pages` in
a capped child process from the local copy `book_files` keeps; `marks` finds a passage among a
page's lines; `passages` gives a section's passages or one passage with its neighbours, and a
book's back-of-book index terms; `library` lists the indexed, failed and pending books.
Errors are typed in `errors`. Every read of the index goes through hbi/index/reads.py.
"""
