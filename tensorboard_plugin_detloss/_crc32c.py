"""Masked CRC-32C of TFRecord framing.

Uses google-crc32c's C implementation (a dependency: the CRC is a third of a pure-Python
writer's time per step); falls back to a table-driven pure-Python CRC where its wheel has no C
build. TensorBoard's own `masked_crc32c` is not used: importing it pulls in boto3 via gfile.
"""

try:
    import google_crc32c

    if google_crc32c.implementation != "c":
        raise ImportError("google-crc32c without its C extension")
    crc32c = google_crc32c.value
except ImportError:

    def _make_table():
        table = []
        for n in range(256):
            crc = n
            for _ in range(8):
                crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
            table.append(crc)
        return tuple(table)

    _TABLE = _make_table()

    def crc32c(data):
        crc = 0xFFFFFFFF
        table = _TABLE
        for byte in data:
            crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
        return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
