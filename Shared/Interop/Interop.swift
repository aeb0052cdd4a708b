internal import CNGHTTP2
internal import COpenSSL
