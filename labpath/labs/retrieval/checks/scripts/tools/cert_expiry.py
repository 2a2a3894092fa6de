"""Warn when the TLS certificate of a host expires within a number of days."""

import datetime as dt
import socket
import ssl
import sys


def expiry_date(host, port=443):
    ctx = ssl.create_default_context()
    with socket.create_connection((host, port), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname=host) as tls:
            cert = tls.getpeercert()
    return dt.datetime.strptime(cert["notAfter"], "%b %d %H:%M:%S %Y %Z")


def days_left(host):
    return (expiry_date(host) - dt.datetime.utcnow()).days


if __name__ == "__main__":
    for host in sys.argv[1:]:
        left = days_left(host)
        if left < 21:
            print(f"{host}: certificate expires in {left} days")
