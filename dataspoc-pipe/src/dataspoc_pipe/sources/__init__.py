"""One module per source kind. Each turns a pipeline's source config into Arrow batches."""
