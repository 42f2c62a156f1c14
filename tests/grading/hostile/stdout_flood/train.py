import sys

print("FIRST-LINE", flush=True)
line = "x" * 1023 + "\n"
block = line * 1024
for _ in range(200):  # 200 MiB
    sys.stdout.write(block)
sys.stdout.flush()
print("LAST-LINE", flush=True)
