/* SHA-256, for the file names of object names too long to escape. */
#ifndef IW_SHA256_H
#define IW_SHA256_H
#include <stddef.h>
#include <stdint.h>

void iw_sha256(const void *data, size_t len, uint8_t out[32]);
#endif
