"""pandas/Arrow UDFs and the model code they call (decoding, detection, embedding, brand safety).

Nothing here imports `jobs/`: the UDFs get plain values from the driver.
"""
