"""dataspoc-pipe: sources into a Parquet data lake in a bucket."""

__version__ = "0.1.0"
