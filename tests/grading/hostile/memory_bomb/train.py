hoard = []
while True:
    hoard.append(b"x" * (16 * 1024 * 1024))
