"""OrderDesk shared library (deployed as the Lambda layer `layers/common`)."""
