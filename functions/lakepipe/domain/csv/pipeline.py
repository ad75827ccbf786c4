"""One source object through the whole conversion: sniff, plan against the catalog, convert, publish.

The storage and the catalog are injected (S3 and Glue in Lambda, see ``lakepipe.adapters``), so this module
decides the order of things without knowing AWS:

1. read: the object's first megabyte → dialect, header, inferred types; the table's contract from the catalog;
2. convert: the whole stream → Parquet and rejected rows, both under a private ``tmp/`` key;
3. write: the catalog (create the table, or add new columns), then the Parquet file moved to its final key,
   then the quarantine (rejected rows and a summary) — or the stale quarantine of a previous version removed.

Nothing reaches ``database/`` until the file converted completely; a file that cannot convert at all (empty,
binary, header only, every row bad) is reported as rejected with its reason and leaves ``database/`` as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack, closing, nullcontext
from dataclasses import asdict, dataclass, field
from typing import IO, Any, Literal, Protocol

from lakepipe.domain.csv.accounting import Ledger
from lakepipe.domain.csv.convert import ConversionLimits, ConversionOutcome, ConversionTuning, convert_csv
from lakepipe.domain.csv.detection import read_sample, sniff
from lakepipe.domain.csv.dialect import BinaryReader, decompressed
from lakepipe.domain.csv.errors import CatalogChangedError, CsvRejectedError, NoValidRowsError
from lakepipe.domain.csv.layout import ObjectLayout, layout_for, tmp_key_for
from lakepipe.domain.csv.quarantine import ParquetQuarantine
from lakepipe.domain.csv.schema import CatalogColumn, ConversionPlan, TableContract, plan_conversion

DEFAULT_SAMPLE_BYTES = 1024 * 1024
Status = Literal["converted", "rejected", "superseded"]


class ReadableObject(BinaryReader, Protocol):
    def close(self) -> None: ...


class ObjectStore(Protocol):
    """The data bucket, as the conversion uses it."""

    def latest_version(self, key: str) -> str | None:
        """The current version id of ``key`` (None when unversioned); raises FileNotFoundError when gone."""
        ...

    def open_read(self, key: str, version_id: str | None) -> ReadableObject: ...

    def open_write(self, key: str) -> IO[bytes]:
        """A streaming writer; the object exists once the writer is closed."""
        ...

    def move(self, source_key: str, target_key: str) -> None: ...

    def put_json(self, key: str, document: dict[str, Any]) -> None: ...

    def delete(self, keys: Sequence[str]) -> None:
        """Delete the keys that exist (missing keys are not an error)."""
        ...


class Catalog(Protocol):
    """The Glue database the datasets are tables of."""

    def get_table(self, name: str) -> TableContract | None: ...

    def create_table(self, name: str, columns: Sequence[CatalogColumn], location: str, description: str) -> None:
        """Create a Parquet table; raises :class:`CatalogChangedError` when it already exists."""
        ...

    def add_columns(self, contract: TableContract, columns: Sequence[CatalogColumn]) -> None:
        """Append nullable columns; raises :class:`CatalogChangedError` when the table changed since ``contract``."""
        ...


Span = Callable[[str], AbstractContextManager[Any]]


def _no_span(name: str) -> AbstractContextManager[Any]:
    return nullcontext()


@dataclass(frozen=True)
class SourceObject:
    """The object an S3 notification names."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None


@dataclass
class ConversionReport:
    """What happened to one source object (JSON-serialisable: it is the idempotency record's payload)."""

    status: Status
    source_key: str
    version_id: str | None
    dataset: str
    table: str
    output_key: str | None = None
    rows_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    bytes_in: int = 0
    bytes_decompressed: int = 0
    seconds: float = 0.0
    reason: str | None = None
    error_code: str | None = None
    quarantine_key: str | None = None
    table_created: bool = False
    columns_added: list[str] = field(default_factory=list)
    dialect: dict[str, Any] | None = None
    # Where every decompressed byte went (see accounting.Ledger): the reconciliation the report was checked by.
    ledger: dict[str, int] | None = None
    text_read_columns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _publish_catalog(
    catalog: Catalog, layout: ObjectLayout, plan: ConversionPlan, location: str
) -> tuple[bool, list[str]]:
    """Make the table match the plan (create it, or add the new columns): (created, names of columns added)."""
    if plan.creates_table:
        try:
            catalog.create_table(
                layout.dataset, plan.catalog_columns, location, f"CSV dataset; first file {layout.source_key}"
            )
            return True, [column.name for column in plan.catalog_columns]
        except CatalogChangedError:
            pass  # created by a concurrent conversion since we planned: it must agree with our types
    contract = catalog.get_table(layout.dataset)
    if contract is None:
        raise CatalogChangedError(f"table {layout.dataset} disappeared during the conversion")
    declared = {column.name: column.hive_type for column in contract.columns}
    clashes = [c.name for c in plan.catalog_columns if c.name in declared and declared[c.name] != c.hive_type]
    if clashes:
        raise CatalogChangedError(f"table {layout.dataset} changed meanwhile: other types for {', '.join(clashes)}")
    missing = [column for column in plan.catalog_columns if column.name not in declared]
    if missing:
        catalog.add_columns(contract, missing)
    return False, [column.name for column in missing]


def _summary(
    source: SourceObject, report: ConversionReport, layout: ObjectLayout, rejected_rows: bool
) -> dict[str, Any]:
    return {
        "source": {"bucket": source.bucket, "key": source.key, "version_id": source.version_id, "etag": source.etag},
        "status": report.status,
        "reason": report.reason,
        "error_code": report.error_code,
        "dataset": layout.dataset,
        "output_key": report.output_key,
        "rows_in": report.rows_in,
        "rows_out": report.rows_out,
        "rows_quarantined": report.rows_quarantined,
        "quarantined_records_key": layout.quarantine_rows_key if rejected_rows else None,
        "dialect": report.dialect,
        "bytes": report.ledger,
    }


def convert_object(
    source: SourceObject,
    *,
    input_prefix: str,
    store: ObjectStore,
    catalog: Catalog,
    run_token: str,
    sample_bytes: int = DEFAULT_SAMPLE_BYTES,
    tuning: ConversionTuning | None = None,
    limits: ConversionLimits | None = None,
    span: Span = _no_span,
) -> ConversionReport:
    """Convert ``source`` to Parquet under ``database/<dataset>/`` and keep its Glue table up to date.

    Raises :class:`~lakepipe.domain.csv.errors.KeyOutsideInputPrefixError` for keys the function must not touch,
    :class:`CatalogChangedError` (retryable) when a concurrent conversion changed the table, and
    :class:`~lakepipe.domain.csv.accounting.ReconciliationError` when the bytes do not add up (a defect); any
    failure leaves nothing published. Files that can never convert come back as a ``rejected`` report.
    """
    started = time.perf_counter()
    layout = layout_for(source.key, input_prefix)
    location = f"s3://{source.bucket}/{layout.dataset_prefix}"
    report = ConversionReport(
        status="converted",
        source_key=source.key,
        version_id=source.version_id,
        dataset=layout.dataset,
        table=layout.dataset,
        bytes_in=source.size or 0,
    )
    tmp_parquet_key = tmp_key_for(layout.output_key, run_token)
    tmp_rejects_key = tmp_key_for(layout.quarantine_rows_key, run_token)
    quarantine = ParquetQuarantine(
        lambda: store.open_write(tmp_rejects_key),
        dataset=layout.dataset,
        source_key=source.key,
        version_id=source.version_id,
    )
    outcome = ConversionOutcome()
    try:
        with ExitStack() as streams:
            with span("read"):
                superseded = _why_superseded(store, source)
                if superseded:
                    report.status, report.reason = "superseded", superseded
                    return report
                stream = streams.enter_context(closing(store.open_read(source.key, source.version_id)))
                readable, compression = decompressed(stream)
                sample = read_sample(readable, sample_bytes)
                sampled = sniff(sample, complete=len(sample) <= sample_bytes, compression=compression)
                report.dialect = asdict(sampled.dialect)
                plan = plan_conversion(sampled, catalog.get_table(layout.dataset), location)
            with span("convert"), closing(store.open_write(tmp_parquet_key)) as sink:
                outcome = convert_csv(
                    readable, plan, sink, quarantine, already_read=sample, tuning=tuning, limits=limits
                )
        quarantine.close()
        _count_into(report, outcome)
        if outcome.rows_out == 0:
            raise NoValidRowsError(
                f"none of the {outcome.rows_in} rows could be converted; see the quarantined records"
            )
        with span("write"):
            report.table_created, report.columns_added = _publish_catalog(catalog, layout, plan, location)
            store.move(tmp_parquet_key, layout.output_key)
            report.output_key = layout.output_key
            _publish_quarantine(store, source, report, layout, tmp_rejects_key, written=quarantine.written)
    except CsvRejectedError as rejection:
        quarantine.close()
        _count_into(report, outcome)
        report.status, report.reason, report.error_code = "rejected", rejection.reason, rejection.code
        report.rows_out = 0
        _publish_quarantine(store, source, report, layout, tmp_rejects_key, written=quarantine.written)
    finally:
        quarantine.close()
        store.delete([tmp_parquet_key, tmp_rejects_key])
        report.seconds = round(time.perf_counter() - started, 3)
    return report


def _why_superseded(store: ObjectStore, source: SourceObject) -> str | None:
    """Why the event's object version should not be converted (deleted, or replaced by a newer upload)."""
    try:
        latest = store.latest_version(source.key)
    except FileNotFoundError:
        return "the object was deleted before its event was processed"
    if source.version_id is not None and latest != source.version_id:
        return f"version {source.version_id} was replaced by {latest}, which has its own event"
    return None


def _count_into(report: ConversionReport, outcome: ConversionOutcome) -> None:
    ledger: Ledger = outcome.ledger
    report.rows_in, report.rows_out, report.rows_quarantined = (
        ledger.rows_in,
        ledger.rows_written,
        ledger.rows_quarantined,
    )
    report.bytes_decompressed = ledger.bytes_read
    report.ledger = ledger.to_dict()
    report.text_read_columns = outcome.text_read_columns


def _publish_quarantine(
    store: ObjectStore,
    source: SourceObject,
    report: ConversionReport,
    layout: ObjectLayout,
    tmp_rejects_key: str,
    *,
    written: bool,
) -> None:
    """Quarantined records and a summary under quarantine/, or a clean conversion's removal of stale ones."""
    if written:
        store.move(tmp_rejects_key, layout.quarantine_rows_key)
    if written or report.status == "rejected":
        report.quarantine_key = layout.quarantine_summary_key
        store.put_json(layout.quarantine_summary_key, _summary(source, report, layout, written))
        if not written:
            store.delete([layout.quarantine_rows_key])
    else:
        store.delete([layout.quarantine_rows_key, layout.quarantine_summary_key])
