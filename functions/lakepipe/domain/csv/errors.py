"""Why a CSV file or a conversion cannot go through, as types the caller can branch on."""

from __future__ import annotations


class CsvRejectedError(Exception):
    """A file that no retry can convert: it is reported, recorded under quarantine/ and never published."""

    code = "rejected"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EmptyFileError(CsvRejectedError):
    code = "empty_file"


class HeaderOnlyFileError(CsvRejectedError):
    code = "header_only"


class BinaryFileError(CsvRejectedError):
    code = "binary_file"


class UnsupportedEncodingError(CsvRejectedError):
    code = "unsupported_encoding"


class CorruptCompressionError(CsvRejectedError):
    code = "corrupt_gzip"


class NoValidRowsError(CsvRejectedError):
    code = "no_valid_rows"


class RecordTooLongError(CsvRejectedError):
    """No line break for hundreds of megabytes: not line-oriented text, and it would not fit in memory."""

    code = "record_too_long"


class HeaderTooLongError(CsvRejectedError):
    code = "header_too_long"


class DecompressedTooLargeError(CsvRejectedError):
    """More decompressed bytes than the per-file limit (a gzip bomb, or a file that should be split)."""

    code = "too_large"


class TooManyRejectsError(CsvRejectedError):
    """More of the file quarantined than the per-file limit: rejected whole rather than mostly quarantined."""

    code = "too_many_rejects"


class SchemaConflictError(CsvRejectedError):
    """The file cannot honour its table's contract (partitioned table, foreign location, unsupported type)."""

    code = "schema_conflict"


class TableGuardError(CsvRejectedError):
    """A file that would make its table worse for the files that follow (too many columns, names too long)."""

    code = "table_guard"


class DatasetCollisionError(CsvRejectedError):
    """A folder whose name folds to a table another folder owns: refused, never merged into it."""

    code = "dataset_collision"


class KeyOutsideInputPrefixError(ValueError):
    """An object key the function must not convert: writing its output could trigger the function again."""


class CatalogChangedError(RuntimeError):
    """The table changed between planning and publishing (a concurrent conversion); a retry will see it."""
