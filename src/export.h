/* The library builds with -fvisibility=hidden: only what carries IW_API is exported. */
#ifndef IW_EXPORT_H
#define IW_EXPORT_H
#define IW_API __attribute__((visibility("default")))
#endif
