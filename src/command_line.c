/*
 * RtCreateProcess's command line (a Win32 string) made into the argument
 * vector of execve, and its program found.
 *
 * Splitting follows Microsoft's C runtime, so that a command line written
 * for INtime or Windows means the same here: arguments are separated by
 * spaces and tabs; double quotes group (and are removed); inside quotes,
 * "" is a literal quote; 2n backslashes before a quote are n backslashes
 * and the quote groups, 2n+1 are n backslashes and a literal quote; other
 * backslashes are literal.  The first argument, the program's name, has
 * a rule of its own (Microsoft's "Parsing C command-line arguments"): it
 * must be a path, and a Windows path may end in a backslash ("C:\dir\"),
 * so quotes group and are removed but a backslash is always literal.
 */
#include "process.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "last_error.h"

char **iw_command_line_split(const char *line, int *argc)
{
    size_t len = strlen(line);
    /* At most one argument per two characters, plus one; each at most the
     * line's characters plus its NUL. */
    size_t slots = len / 2 + 2;
    char **argv = malloc(slots * sizeof *argv + 2 * len + 2);
    if (argv == NULL)
        return NULL;
    char *out = (char *)(argv + slots);
    int n = 0;
    const char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        argv[n++] = out;
        bool quoted = false;
        /* The program's name: the loop after it then ends at once. */
        while (n == 1 && *p != '\0' && (quoted || (*p != ' ' && *p != '\t'))) {
            if (*p == '"')
                quoted = !quoted;
            else
                *out++ = *p;
            p++;
        }
        while (*p != '\0' && (quoted || (*p != ' ' && *p != '\t'))) {
            size_t backslashes = 0;
            while (*p == '\\') {
                backslashes++;
                p++;
            }
            if (*p == '"') {
                for (size_t i = 0; i < backslashes / 2; i++)
                    *out++ = '\\';
                if (backslashes % 2) {
                    *out++ = '"';
                } else if (quoted && p[1] == '"') {
                    *out++ = '"';
                    p++;
                } else {
                    quoted = !quoted;
                }
                p++;
            } else {
                for (size_t i = 0; i < backslashes; i++)
                    *out++ = '\\';
                if (*p != '\0' && (quoted || (*p != ' ' && *p != '\t')))
                    *out++ = *p++;
            }
        }
        *out++ = '\0';
    }
    argv[n] = NULL;
    *argc = n;
    return argv;
}

DWORD iw_command_line_program(const char *name, char *buf, size_t size)
{
    if (name[0] == '\0')
        return ERROR_FILE_NOT_FOUND;
    if (strchr(name, '/') != NULL) {
        if (strlen(name) >= size)
            return ERROR_FILENAME_EXCED_RANGE;
        strcpy(buf, name);
        return ERROR_SUCCESS;
    }
    const char *path = getenv("PATH");
    if (path == NULL || path[0] == '\0')
        path = "/usr/local/bin:/usr/bin:/bin"; /* as execvp without PATH, less the cwd */
    DWORD err = ERROR_FILE_NOT_FOUND;
    for (const char *dir = path; dir != NULL;) {
        const char *end = strchr(dir, ':');
        int dlen = end ? (int)(end - dir) : (int)strlen(dir);
        int n = snprintf(buf, size, "%.*s%s%s", dlen, dir, dlen ? "/" : "", name);
        if (n > 0 && (size_t)n < size) {
            /* A file, not a directory (which access() finds "executable"
             * too): a directory of the name is passed over, as by execvp. */
            struct stat st;
            if (stat(buf, &st) == 0 && !S_ISDIR(st.st_mode)) {
                if (access(buf, X_OK) == 0)
                    return ERROR_SUCCESS;
                if (errno == EACCES)
                    err = ERROR_ACCESS_DENIED; /* as execvp: found, but not to be run */
            }
        }
        dir = end ? end + 1 : NULL;
    }
    return err;
}
