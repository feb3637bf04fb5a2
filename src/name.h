/*
 * Object names -> file names in the node directory.
 *
 * A name is a byte string of 1..259 bytes, any byte but '\'.  It becomes a
 * single path component that cannot reach outside the node directory:
 *   "n-" + the name with every byte outside [A-Za-z0-9_.+,=@~-] escaped as %XX
 *   "h-" + hex SHA-256 of the name, when the escaped form would not fit; the
 *        full name is then stored in the object and compared on open.
 * The node's other files use prefixes no name can produce: "u-" (unnamed
 * objects), "t-" (objects being made: "t-h" for an "h-" one, whose data
 * starts after the header page too), ".node".
 */
#ifndef IW_NAME_H
#define IW_NAME_H
#include <stdbool.h>
#include <stddef.h>

#include "iwin32.h"

#define IW_NAME_MAX (MAX_PATH - 1)  /* 259 bytes; MAX_PATH counts the NUL */
#define IW_FILE_NAME_SIZE 256       /* a file name with its NUL */

struct iw_name {
    const char *bytes;   /* the caller's name, or NULL for an unnamed object */
    size_t len;
    bool hashed;         /* file name is "h-<sha256>": the full name lives in the object */
    char file[IW_FILE_NAME_SIZE];
};

/* Validates lpName and fills *out.  NULL or "" gives an unnamed name (file[0]
 * == 0).  Returns ERROR_SUCCESS, ERROR_FILENAME_EXCED_RANGE or ERROR_PATH_NOT_FOUND. */
DWORD iw_name_parse(LPCTSTR lpName, struct iw_name *out);

/* True for the node files that hold objects (and objects being made). */
bool iw_name_is_object_file(const char *file);

/* Whether the object file's data starts after a header page ("h-", "t-h"):
 * a page its pool count leaves out (pool.c). */
bool iw_name_has_header_page(const char *file);

/* Decodes an "n-" file name back to the object's name; false for other files. */
bool iw_name_decode(const char *file, char *out, size_t *len);
#endif
