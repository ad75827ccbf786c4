"""One object event through the whole conversion: sniff, plan against the catalog, convert, publish (or remove).

The storage, the catalog and the leases are injected (S3, Glue and DynamoDB in Lambda, see ``lakepipe.adapters``),
so this module decides the order of things without knowing AWS:

1. read: the object's first megabyte → dialect, header, inferred types; the table's contract from the catalog;
   the table's guards and its owner folder checked;
2. convert: the whole stream → Parquet and quarantined records, both under a private ``tmp/`` key; a new table
   whose columns turned out wider than the sample showed is converted again, wide enough (the version is
   immutable, so the second read sees the same bytes);
3. write, inside the key's lease and only if the version is still the key's newest (``publication``): the catalog
   (create the table, or add new columns), the Parquet file moved to its final key, the quarantine.

Nothing reaches ``database/`` until the file converted completely; a file that cannot convert at all (empty,
binary, header only, every row bad, over a limit) is reported as rejected with its reason and leaves
``database/`` as it was. A removed object's outputs are removed, under the same lease and newest-version rule.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack, closing, nullcontext
from dataclasses import asdict, dataclass, field
from typing import IO, Any, Literal, Protocol

from lakepipe.domain.csv.accounting import Ledger
from lakepipe.domain.csv.column_types import ColumnKind, classify_value
from lakepipe.domain.csv.convert import ConversionOutcome, convert_csv
from lakepipe.domain.csv.detection import read_sample, sniff
from lakepipe.domain.csv.dialect import BinaryReader, SampledCsv, decompressed
from lakepipe.domain.csv.errors import CatalogChangedError, CsvRejectedError, NoValidRowsError
from lakepipe.domain.csv.guards import check_owner, check_plan
from lakepipe.domain.csv.layout import ObjectLayout, layout_for, tmp_key_for
from lakepipe.domain.csv.options import ConversionSettings
from lakepipe.domain.csv.publication import Leases, holding_lease, lease_name
from lakepipe.domain.csv.quarantine import ParquetQuarantine
from lakepipe.domain.csv.schema import CatalogColumn, ConversionPlan, TableContract, plan_conversion

Status = Literal["converted", "rejected", "superseded", "removed"]


class ReadableObject(BinaryReader, Protocol):
    def close(self) -> None: ...


class ObjectStore(Protocol):
    """The data bucket, as the conversion uses it."""

    def current_version(self, key: str) -> str | None:
        """The version id of ``key``'s current object (None in an unversioned bucket).

        Raises ``FileNotFoundError`` when the key has no current object (never written, or deleted).
        """
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

    def create_table(
        self, name: str, columns: Sequence[CatalogColumn], location: str, description: str, source_folder: str
    ) -> None:
        """Create a Parquet table owned by ``source_folder``; raises :class:`CatalogChangedError` if it exists."""
        ...

    def add_columns(self, contract: TableContract, columns: Sequence[CatalogColumn]) -> None:
        """Append nullable columns; raises :class:`CatalogChangedError` when the table changed since ``contract``."""
        ...


Span = Callable[[str], AbstractContextManager[Any]]


def _no_span(name: str) -> AbstractContextManager[Any]:
    return nullcontext()


@dataclass(frozen=True)
class SourceObject:
    """The object version an S3 notification names."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Services:
    """What a conversion works with, injected."""

    store: ObjectStore
    catalog: Catalog
    leases: Leases
    span: Span = _no_span


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
    # Columns a new table was planned wider for after a first read (the file's values did not fit the sample's).
    widened_columns: dict[str, str] = field(default_factory=dict)
    # For an existing table: the columns whose declared type refused values, and how (see _drift).
    drift: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------------------------ conversion
def convert_object(
    source: SourceObject, *, services: Services, settings: ConversionSettings, run_token: str
) -> ConversionReport:
    """Convert ``source`` to Parquet under ``database/<dataset>/`` and keep its Glue table up to date.

    Raises :class:`~lakepipe.domain.csv.errors.KeyOutsideInputPrefixError` for keys the function must not touch,
    :class:`CatalogChangedError` or :class:`~.publication.PublicationBusyError` (a retry will go through), and
    :class:`~lakepipe.domain.csv.accounting.ReconciliationError` when the bytes do not add up (a defect); any
    failure leaves nothing published. Files that can never convert come back as a ``rejected`` report.
    """
    started = time.perf_counter()
    layout = layout_for(source.key, settings.input_prefix)
    report = ConversionReport(
        status="converted",
        source_key=source.key,
        version_id=source.version_id,
        dataset=layout.dataset,
        table=layout.dataset,
        bytes_in=source.size or 0,
    )
    run = _Run(source, layout, services, settings, run_token=run_token)
    try:
        with ExitStack() as streams:
            with services.span("read"):
                superseded = _why_superseded(services.store, source)
                if superseded:
                    report.status, report.reason = "superseded", superseded
                    return report
                contract = services.catalog.get_table(layout.dataset)
                check_owner(contract, layout)
                prepared = run.prepare(streams, contract, widened=None, report=report)
            with services.span("convert"):
                plan, outcome = prepared.plan, run.convert(prepared)
        if plan.creates_table and outcome.misfit_kinds:
            # A new table follows the whole file: read the (immutable) version again with wider columns.
            report.widened_columns = {name: kind.value for name, kind in outcome.misfit_kinds.items()}
            with ExitStack() as streams:
                with services.span("read"):
                    prepared = run.prepare(streams, contract, widened=outcome.misfit_kinds, report=report)
                with services.span("convert"):
                    plan, outcome = prepared.plan, run.convert(prepared)
        _count_into(report, outcome)
        report.drift = _drift(run.quarantine, plan)
        if outcome.rows_out == 0:
            raise NoValidRowsError(
                f"none of the {outcome.rows_in} rows could be converted; see the quarantined records"
            )
        with services.span("write"):
            run.publish(plan, report)
    except CsvRejectedError as rejection:
        run.quarantine.close()
        report.status, report.reason, report.error_code = "rejected", rejection.reason, rejection.code
        report.rows_out = 0
        with holding_lease(
            services.leases, lease_name(source.bucket, source.key), run_token, wait_seconds=settings.lease_wait_seconds
        ):
            if _why_superseded(services.store, source) is None:
                _publish_quarantine(
                    services.store, source, report, layout, run.tmp_rejects_key, written=run.quarantine.written
                )
    finally:
        run.quarantine.close()
        services.store.delete([run.tmp_parquet_key, run.tmp_rejects_key])
        report.seconds = round(time.perf_counter() - started, 3)
    return report


@dataclass(frozen=True)
class _Prepared:
    stream: BinaryReader
    sample: bytes
    plan: ConversionPlan


class _Run:
    """One conversion's reads and writes (a file may be read twice: see the module docstring)."""

    def __init__(
        self,
        source: SourceObject,
        layout: ObjectLayout,
        services: Services,
        settings: ConversionSettings,
        *,
        run_token: str,
    ) -> None:
        self.source, self.layout, self.services, self.settings = source, layout, services, settings
        self.run_token = run_token
        self.tmp_parquet_key = tmp_key_for(layout.output_key, run_token)
        self.tmp_rejects_key = tmp_key_for(layout.quarantine_rows_key, run_token)
        self.location = f"s3://{source.bucket}/{layout.dataset_prefix}"
        self.quarantine = self._new_quarantine()

    def _new_quarantine(self) -> ParquetQuarantine:
        store = self.services.store
        return ParquetQuarantine(
            lambda: store.open_write(self.tmp_rejects_key),
            dataset=self.layout.dataset,
            source_key=self.source.key,
            version_id=self.source.version_id,
        )

    def prepare(
        self,
        streams: ExitStack,
        contract: TableContract | None,
        *,
        widened: dict[str, ColumnKind] | None,
        report: ConversionReport,
    ) -> _Prepared:
        """Open the version, sniff its first megabyte and plan its columns (the stream stays open in ``streams``)."""
        store, settings = self.services.store, self.settings
        if widened is not None:
            self.quarantine.close()
            self.quarantine = self._new_quarantine()  # the first read's quarantine is discarded with its Parquet
        stream = streams.enter_context(closing(store.open_read(self.source.key, self.source.version_id)))
        readable, compression = decompressed(stream)
        sample = read_sample(readable, settings.sample_bytes)
        sampled = sniff(sample, complete=len(sample) <= settings.sample_bytes, compression=compression)
        report.dialect = asdict(sampled.dialect)
        plan = plan_conversion(sampled, contract, self.location, widened=widened)
        check_plan(plan, _header(sampled), settings.guards)
        return _Prepared(readable, sample, plan)

    def convert(self, prepared: _Prepared) -> ConversionOutcome:
        """Stream the rest of the version into the staging Parquet file and the quarantine."""
        settings = self.settings
        with closing(self.services.store.open_write(self.tmp_parquet_key)) as sink:
            outcome = convert_csv(
                prepared.stream,
                prepared.plan,
                sink,
                self.quarantine,
                already_read=prepared.sample,
                tuning=settings.tuning,
                limits=settings.limits,
            )
        self.quarantine.close()
        return outcome

    def publish(self, plan: ConversionPlan, report: ConversionReport) -> None:
        """Catalog, Parquet and quarantine, in the key's lease, if the version is still the newest."""
        services, layout = self.services, self.layout
        with holding_lease(
            services.leases,
            lease_name(self.source.bucket, self.source.key),
            self.run_token,
            lease_seconds=self.settings.lease_seconds,
            wait_seconds=self.settings.lease_wait_seconds,
        ):
            superseded = _why_superseded(services.store, self.source)
            if superseded:
                report.status, report.reason = "superseded", superseded
                return
            report.table_created, report.columns_added = _publish_catalog(services.catalog, layout, plan, self.location)
            services.store.move(self.tmp_parquet_key, layout.output_key)
            report.output_key = layout.output_key
            _publish_quarantine(
                services.store, self.source, report, layout, self.tmp_rejects_key, written=self.quarantine.written
            )


def _header(sampled: SampledCsv) -> tuple[str, ...]:
    return sampled.header if sampled.dialect.has_header else ()


def _why_superseded(store: ObjectStore, source: SourceObject) -> str | None:
    """Why the event's object version should not be published (deleted, or replaced by a newer upload)."""
    try:
        current = store.current_version(source.key)
    except FileNotFoundError:
        return "the object was deleted; its removal event removes the outputs"
    if source.version_id is not None and current != source.version_id:
        return f"version {source.version_id} was replaced by {current}, which has its own event"
    return None


def _publish_catalog(
    catalog: Catalog, layout: ObjectLayout, plan: ConversionPlan, location: str
) -> tuple[bool, list[str]]:
    """Make the table match the plan (create it, or add the new columns): (created, names of columns added)."""
    if plan.creates_table:
        try:
            catalog.create_table(
                layout.dataset,
                plan.catalog_columns,
                location,
                f"CSV dataset of folder {layout.source_folder!r}; first file {layout.source_key}",
                layout.source_folder,
            )
            return True, [column.name for column in plan.catalog_columns]
        except CatalogChangedError:
            pass  # created by a concurrent conversion since we planned: it must agree with our types
    contract = catalog.get_table(layout.dataset)
    if contract is None:
        raise CatalogChangedError(f"table {layout.dataset} disappeared during the conversion")
    check_owner(contract, layout)
    declared = {column.name: column.hive_type for column in contract.columns}
    clashes = [c.name for c in plan.catalog_columns if c.name in declared and declared[c.name] != c.hive_type]
    if clashes:
        raise CatalogChangedError(f"table {layout.dataset} changed meanwhile: other types for {', '.join(clashes)}")
    missing = [column for column in plan.catalog_columns if column.name not in declared]
    if missing:
        catalog.add_columns(contract, missing)
    return False, [column.name for column in missing]


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


def _drift(quarantine: ParquetQuarantine, plan: ConversionPlan) -> list[dict[str, Any]]:
    """Per column whose declared type refused values: the type, what the values were, how many, where first."""
    declared = {column.name: column.hive_type for column in plan.columns}
    drift = []
    for column, refused in sorted(quarantine.refused_values.items()):
        kinds = Counter(classify_value(value, plan.dialect.decimal_point) for value, _ in refused.samples)
        drift.append(
            {
                "column": column,
                "declared_type": declared.get(column),
                "found_kinds": [kind.value for kind in sorted(kinds, key=lambda kind: -kinds[kind])],
                "count": refused.count,
                "first_lines": [line for _, line in refused.samples[:5]],
            }
        )
    return drift


def _summary(
    source: SourceObject, report: ConversionReport, layout: ObjectLayout, quarantined_records: bool
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
        "quarantined_records_key": layout.quarantine_rows_key if quarantined_records else None,
        "dialect": report.dialect,
        "bytes": report.ledger,
        "widened_columns": report.widened_columns,
        "drift": report.drift,
    }


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


# ---------------------------------------------------------------------------------------------------- removal
def remove_outputs(
    source: SourceObject, *, services: Services, settings: ConversionSettings, run_token: str
) -> ConversionReport:
    """After the source key was deleted: remove its Parquet file and quarantine, unless a newer upload exists."""
    started = time.perf_counter()
    layout = layout_for(source.key, settings.input_prefix)
    report = ConversionReport(
        status="removed",
        source_key=source.key,
        version_id=source.version_id,
        dataset=layout.dataset,
        table=layout.dataset,
    )
    with holding_lease(
        services.leases,
        lease_name(source.bucket, source.key),
        run_token,
        lease_seconds=settings.lease_seconds,
        wait_seconds=settings.lease_wait_seconds,
    ):
        try:
            current = services.store.current_version(source.key)
        except FileNotFoundError:
            services.store.delete([layout.output_key, layout.quarantine_rows_key, layout.quarantine_summary_key])
            report.reason = f"the source was deleted: {layout.output_key} and its quarantine removed"
        else:
            report.status = "superseded"
            report.reason = f"the key was written again (version {current}); that upload's event converts it"
    report.seconds = round(time.perf_counter() - started, 3)
    return report
