"""The caps on what the grader reads from a submission: one set for every copy, unzip and notebook read.

`autograder.grading.intake` applies them to folders and zips, `autograder.grading.extract` to
notebooks.
"""

MAX_FILES = 200  # files kept from one submission
MAX_FILE_BYTES = 5 * 1024 * 1024  # one module or notebook (notebooks may carry images)
MAX_TOTAL_BYTES = 20 * 1024 * 1024  # everything kept from one submission
MAX_ARCHIVE_BYTES = 20 * 1024 * 1024  # a .zip as uploaded
MAX_ZIP_DEPTH = 5  # path parts of a kept zip member (folder/attention/sub/module.py is 4)
