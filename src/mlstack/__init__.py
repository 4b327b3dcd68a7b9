"""mlstack: Azure Machine Learning estates as code."""
