"""oxstack conformance harness: shared by scripts/conformance and conformance/cli/run."""
