"""Bank payout batches (代发批次): the files handed to the bank and the return files read back."""
