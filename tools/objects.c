/*
 * The node's objects as the tool names and finds them: types, creation
 * times, and the NAME operand of show and rm, looked up through the
 * inspection interface (iwin32InspectObject).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "cli.h"

const char *cli_type_name(IWIN32_OBJECT_TYPE type)
{
    switch (type) {
    case IWIN32_OBJECT_SHM:
        return "shm";
    case IWIN32_OBJECT_EVENT:
        return "event";
    case IWIN32_OBJECT_MUTEX:
        return "mutex";
    case IWIN32_OBJECT_SEMAPHORE:
        return "semaphore";
    }
    return "unknown";
}

IWIN32_OBJECT_TYPE cli_type_of(const char *name)
{
    for (IWIN32_OBJECT_TYPE t = IWIN32_OBJECT_SHM; t <= IWIN32_OBJECT_SEMAPHORE; t++)
        if (strcmp(name, cli_type_name(t)) == 0)
            return t;
    return 0;
}

void cli_print_created(FILE *f, const IWIN32_OBJECT_INFO *obj, bool json)
{
    char text[64];
    struct tm tm;
    time_t t = (time_t)obj->createdSeconds;
    if (t == -1) {
        fputs(json ? "null" : "unknown (the filesystem keeps no creation time)", f);
    } else if (json) {
        strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", gmtime_r(&t, &tm));
        fprintf(f, "\"%s.%03ldZ\"", text, obj->createdNanoseconds / 1000000);
    } else {
        strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S %Z", localtime_r(&t, &tm));
        fputs(text, f);
    }
}

int cli_lookup_operand(const struct cli_command *cmd, int argc, char **argv, uint64_t data_bytes,
                       struct cli_named *out)
{
    if (optind != argc - 1)
        cli_usage_error(cmd, optind == argc ? "NAME missing" : "one NAME only");
    /* SPEC 3: 1 to 259 bytes, any but '\' (e.g. \x5c) - and no NUL, which
     * cli_parse_name refuses. */
    if (!cli_parse_name(argv[optind], out->name, &out->len) || out->len == 0 || memchr(out->name, '\\', out->len))
        cli_usage_error(cmd, "bad NAME '%s': no object can have it (1 to 259 bytes, no '\\'; \\xNN for any "
                        "byte but NUL)", argv[optind]);
    if (cli_open_node(out->path) != CLI_OK)
        return CLI_FAILED;
    if (iwin32InspectObject(out->name, data_bytes, &out->obj))
        return CLI_OK;
    if (GetLastError() == ERROR_FILE_NOT_FOUND) {
        fputs("iwin32: no object named ", stderr);
        cli_print_name(stderr, out->name, out->len);
        fputc('\n', stderr);
    } else {
        cli_error("cannot read the node at %s: %s", out->path, iwin32ErrorText(GetLastError()));
    }
    return CLI_FAILED;
}
