print("training forever", flush=True)
while True:
    pass
