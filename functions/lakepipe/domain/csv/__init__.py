"""CSV → Parquet: naming, dialect sniffing, type inference and streaming conversion. No AWS imports here."""
