/*
 * Names on the screen, in JSON, and back from the command line.  A name is
 * any bytes but '\' (SPEC 3); the tool shows what is safe as it is and
 * escapes the rest as \xNN, which is unambiguous for the same reason.
 */
#include <stdint.h>
#include <string.h>

#include "cli.h"

/* The length of the well-formed UTF-8 character at s (RFC 3629: shortest
 * form, no surrogates, at most U+10FFFF) and its code point; 0 if malformed. */
static size_t utf8_char(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t min;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2;
        min = 0x80;
        *cp = s[0] & 0x1F;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3;
        min = 0x800;
        *cp = s[0] & 0x0F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        min = 0x10000;
        *cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        *cp = *cp << 6 | (s[i] & 0x3F);
    }
    if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
        return 0;
    return len;
}

/* Characters that would move or hide text on a terminal: C1 controls, line
 * and paragraph separators, bidirectional marks, embeddings and isolates. */
static bool is_invisible_control(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x200E || cp == 0x200F || (cp >= 0x2028 && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

static void print_byte_escape(FILE *f, unsigned char c) { fprintf(f, "\\x%02x", c); }

void cli_print_name(FILE *f, const char *name, size_t len)
{
    const unsigned char *s = (const unsigned char *)name;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n;
        if (s[i] > 0x20 && s[i] < 0x7F && !(i == 0 && s[i] == '(')) {
            fputc(s[i++], f);
        } else if (s[i] >= 0x80 && (n = utf8_char(s + i, len - i, &cp)) != 0 && !is_invisible_control(cp)) {
            fwrite(s + i, 1, n, f);
            i += n;
        } else {
            print_byte_escape(f, s[i++]);
        }
    }
}

void cli_print_object_name(FILE *f, const char *name, size_t len)
{
    if (len == 0)
        fputs("(unnamed)", f);
    else
        cli_print_name(f, name, len);
}

void cli_print_json_string(FILE *f, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n;
        if (s[i] == '"' || s[i] == '\\') {
            fprintf(f, "\\%c", s[i++]);
        } else if (s[i] < 0x20 || s[i] == 0x7F) {
            fprintf(f, "\\u%04x", s[i++]);
        } else if (s[i] < 0x80) {
            fputc(s[i++], f);
        } else if ((n = utf8_char(s + i, len - i, &cp)) != 0) {
            if (cp <= 0x9F) /* C1 controls: valid JSON raw, but clearer escaped */
                fprintf(f, "\\u%04x", (unsigned)cp);
            else
                fwrite(s + i, 1, n, f);
            i += n;
        } else {
            fprintf(f, "\\\\x%02x", s[i++]); /* not UTF-8: the text form */
        }
    }
    fputc('"', f);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool cli_parse_name(const char *arg, char *out, size_t *len)
{
    size_t n = 0;
    for (const char *p = arg; *p; n++) {
        if (n == IWIN32_INSPECT_NAME_MAX)
            return false;
        if (*p != '\\') {
            out[n] = *p++;
            continue;
        }
        int hi = p[1] == 'x' ? hex_digit(p[2]) : -1;
        int lo = hi < 0 ? -1 : hex_digit(p[3]);
        if (lo < 0 || (hi == 0 && lo == 0)) /* no NUL: names are C strings */
            return false;
        out[n] = (char)(hi << 4 | lo);
        p += 4;
    }
    out[n] = '\0';
    *len = n;
    return true;
}
