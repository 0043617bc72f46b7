"""Tables of recorded learning curves, their collection, and XGBoost surrogates of them."""
