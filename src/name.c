#include "name.h"

#include <stdio.h>
#include <string.h>

#include "sha256.h"

static bool is_plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("_.+,=@~-", c) != NULL;
}

static const char hex[] = "0123456789ABCDEF";

DWORD iw_name_parse(LPCTSTR lpName, struct iw_name *out)
{
    out->bytes = NULL;
    out->len = 0;
    out->hashed = false;
    out->file[0] = '\0';
    if (lpName == NULL || lpName[0] == '\0')
        return ERROR_SUCCESS;

    size_t len = strnlen(lpName, IW_NAME_MAX + 1);
    if (len > IW_NAME_MAX)
        return ERROR_FILENAME_EXCED_RANGE;
    /* Win32 reads '\' as a directory separator and finds no such directory. */
    if (memchr(lpName, '\\', len) != NULL)
        return ERROR_PATH_NOT_FOUND;
    out->bytes = lpName;
    out->len = len;

    size_t pos = 0;
    out->file[pos++] = 'n';
    out->file[pos++] = '-';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)lpName[i];
        if (pos + 3 >= IW_FILE_NAME_SIZE)
            goto hash;
        if (is_plain(c)) {
            out->file[pos++] = (char)c;
        } else {
            out->file[pos++] = '%';
            out->file[pos++] = hex[c >> 4];
            out->file[pos++] = hex[c & 15];
        }
    }
    out->file[pos] = '\0';
    return ERROR_SUCCESS;

hash:;
    uint8_t digest[32];
    iw_sha256(lpName, len, digest);
    out->hashed = true;
    out->file[0] = 'h';
    for (int i = 0; i < 32; i++) {
        out->file[2 + 2 * i] = hex[digest[i] >> 4];
        out->file[3 + 2 * i] = hex[digest[i] & 15];
    }
    out->file[66] = '\0';
    return ERROR_SUCCESS;
}

bool iw_name_is_object_file(const char *file)
{
    return (file[0] == 'n' || file[0] == 'h' || file[0] == 'u' || file[0] == 't') && file[1] == '-';
}

/* A "t-" name's unique part is lower-case hex (node.c), never 'h'. */
bool iw_name_has_header_page(const char *file)
{
    return file[0] == 'h' || (file[0] == 't' && file[1] == '-' && file[2] == 'h');
}

static int hex_value(char c)
{
    const char *p = c ? strchr(hex, c) : NULL;
    return p ? (int)(p - hex) : -1;
}

bool iw_name_decode(const char *file, char *out, size_t *len)
{
    if (strncmp(file, "n-", 2) != 0)
        return false;
    size_t n = 0;
    for (const char *p = file + 2; *p; p++) {
        if (*p == '%') {
            int hi = hex_value(p[1]), lo = hi < 0 ? -1 : hex_value(p[2]);
            if (lo < 0)
                return false;
            out[n++] = (char)(hi << 4 | lo);
            p += 2;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
    *len = n;
    return true;
}
