"""A CSV with one record of each structural and typed error, written line by line so that each record's exact bytes
are known here (by splitting the file at its line breaks), independently of lakepipe's record grammar."""

from __future__ import annotations

import codecs
import random
from dataclasses import dataclass

from lakepipe_cli.local_aws import LocalStack
from tests.integration.csv_tools.queues import drain_through_the_function, upload_as_s3_notifies

DATASET = "events"
# The table's contract: a first, clean file types the columns (id bigint, name string, amount bigint).
CONTRACT_KEY = f"input/{DATASET}/2026-10.csv"
CONTRACT_CSV = b"id,name,amount\n1,alpha,10\n2,beta,20\n"
BIG_FIELD_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class HostileCsv:
    """The file's bytes (decompressed), and the 1-based line numbers of the records that cannot convert."""

    data: bytes
    bad_lines: dict[int, str]  # line -> the reason code the record must be quarantined with

    @property
    def lines(self) -> list[bytes]:
        """The physical lines, each with its line break: a record that fits one line is exactly its line."""
        return self.data.splitlines(keepends=True)

    def line(self, number: int) -> bytes:
        return self.lines[number - 1]


def hostile_csv(*, bom: bool = False, big_field_code: str = "invalid_value") -> HostileCsv:
    """Header, then good records around: an unterminated quote, a NUL byte, a text id in a bigint column, and a
    record of several MB whose amount is not a number."""
    text = random.Random(11).choices("abcdefghijklmnopqrstuvwxyz ", k=BIG_FIELD_BYTES)
    lines = [
        (codecs.BOM_UTF8 if bom else b"") + b"id,name,amount\n",
        b"3,gamma,30\n",
        b'4,"unterminated,40\n',
        b"5,eps\x00ilon,50\n",
        b"six,zeta,60\n",
        b"7,eta,70\n",
        b"8," + "".join(text).encode() + b",not-a-number\n",
        b"9,theta,90\n",
    ]
    bad = {3: "unterminated_quote", 4: "nul_byte", 5: "invalid_value", 7: big_field_code}
    return HostileCsv(b"".join(lines), bad)


def convert(stack: LocalStack, key: str, body: bytes) -> dict[str, object]:
    """Upload ``body`` under ``key`` and run the real handler on S3's notification; returns its report."""
    upload_as_s3_notifies(stack, key, body)
    (report,) = drain_through_the_function(stack).reports
    return report


def convert_with_contract(stack: LocalStack, key: str, body: bytes) -> dict[str, object]:
    """The dataset's table made by a clean file first, then ``body`` converted against its columns."""
    assert convert(stack, CONTRACT_KEY, CONTRACT_CSV)["status"] == "converted"
    return convert(stack, key, body)
