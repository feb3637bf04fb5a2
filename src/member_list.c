/*
 * A member's list of what it holds (member_list.h).
 *
 * An entry's state: FREE; WRITING while its owner fills it (the owner's
 * threads claim entries by compare-and-swap, so charges never wait for one
 * another); then OWN, or INHERITED for a forked child's copy of its
 * parent's entries.  Only the member's own threads write its list; others
 * read it only once the member is gone, when it can no longer change.
 * An entry left WRITING by a death proves nothing.
 */
#include "member_list.h"

#include <string.h>

#include "node_file.h"

enum { FREE, WRITING, OWN, INHERITED };

/* A complete entry: it names an object (its own charge, or inherited). */
static bool complete(uint32_t state) { return state == OWN || state == INHERITED; }

void iw_member_list_start(struct iw_member_list *list, uint64_t generation)
{
    for (unsigned i = 0; i < IW_MEMBER_LIST; i++)
        atomic_store(&list->entry[i].state, FREE);
    atomic_store(&list->generation, generation);
}

int iw_member_list_add(struct iw_member_list *list, const char *file, ino_t ino, uint64_t pages)
{
    size_t len = strlen(file);
    if (len >= IW_MEMBER_FILE)
        return -1;
    for (unsigned i = 0; i < IW_MEMBER_LIST; i++) {
        struct iw_member_entry *e = &list->entry[i];
        uint32_t free_state = FREE;
        if (atomic_load_explicit(&e->state, memory_order_relaxed) != FREE ||
            !atomic_compare_exchange_strong(&e->state, &free_state, WRITING))
            continue;
        e->ino = (uint64_t)ino;
        e->pages = pages;
        memcpy(e->file, file, len + 1);
        atomic_store(&e->state, OWN); /* release: a reader that sees OWN sees the rest */
        return (int)i;
    }
    return -1;
}

void iw_member_list_remove(struct iw_member_list *list, int entry)
{
    if (entry >= 0 && (unsigned)entry < IW_MEMBER_LIST)
        atomic_store(&list->entry[entry].state, FREE);
}

/* fork's prepare runs with no call of ours in transit (fork.c), so no entry
 * of the parent's is being written or freed. */
void iw_member_list_inherit(struct iw_member_list *child, const struct iw_member_list *parent)
{
    for (unsigned i = 0; i < IW_MEMBER_LIST; i++) {
        const struct iw_member_entry *p = &parent->entry[i];
        if (!complete(atomic_load(&p->state)))
            continue;
        struct iw_member_entry *c = &child->entry[i];
        c->ino = p->ino;
        c->pages = p->pages;
        memcpy(c->file, p->file, IW_MEMBER_FILE);
        atomic_store(&c->state, INHERITED);
    }
}

bool iw_member_list_proven(const struct iw_node *node, const struct iw_member_list *list, uint64_t generation,
                           uint64_t *own, uint64_t *inherited)
{
    *own = *inherited = 0;
    if (atomic_load(&list->generation) != generation)
        return false;
    for (unsigned i = 0; i < IW_MEMBER_LIST; i++) {
        const struct iw_member_entry *e = &list->entry[i];
        uint32_t state = atomic_load(&e->state);
        if (!complete(state))
            continue;
        char file[IW_MEMBER_FILE];
        memcpy(file, e->file, sizeof file);
        file[sizeof file - 1] = '\0'; /* a stray write: the name then proves nothing */
        if (!iw_node_file_held(node, file, (ino_t)e->ino))
            continue;
        if (state == OWN)
            *own += e->pages;
        else
            *inherited += e->pages;
    }
    return true;
}
