// Boost.Interprocess peer for the benchmarks (see bench_boost.h).  Header
// only; every Boost exception becomes the process's death with a message,
// like the C benchmarks' die().
#include "bench_boost.h"

#include <boost/date_time/posix_time/posix_time_types.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <boost/interprocess/sync/named_mutex.hpp>
#include <boost/interprocess/sync/named_semaphore.hpp>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace bip = boost::interprocess;

namespace {

[[noreturn]] void fail(const char *what, const std::exception &e)
{
    std::fprintf(stderr, "boost peer: %s: %s\n", what, e.what());
    std::exit(1);
}

uint64_t now_ns()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

constexpr std::size_t page = 4096;
std::string mutex_name, sem_name;
std::unique_ptr<bip::named_mutex> mtx;
std::unique_ptr<bip::named_semaphore> sem;

} // namespace

extern "C" void bip_shm_make(const char *name, uint32_t size)
{
    try {
        bip::shared_memory_object::remove(name);
        bip::shared_memory_object shm(bip::create_only, name, bip::read_write);
        shm.truncate(size);
        bip::mapped_region r(shm, bip::read_write);
        for (std::size_t i = 0; i < r.get_size(); i += page)
            static_cast<volatile char *>(r.get_address())[i] = 1;
    } catch (const std::exception &e) {
        fail("make", e);
    }
}

extern "C" void bip_shm_create(const char *name, uint32_t size, unsigned n)
{
    try {
        for (unsigned k = 0; k < n; k++) {
            {
                bip::shared_memory_object shm(bip::create_only, name, bip::read_write);
                shm.truncate(size);
                bip::mapped_region r(shm, bip::read_write);
                for (std::size_t i = 0; i < r.get_size(); i += page)
                    static_cast<volatile char *>(r.get_address())[i] = 1;
            }
            bip::shared_memory_object::remove(name);
        }
    } catch (const std::exception &e) {
        fail("create", e);
    }
}

extern "C" void bip_shm_open(const char *name, uint32_t size, unsigned n)
{
    (void)size;
    try {
        for (unsigned k = 0; k < n; k++) {
            bip::shared_memory_object shm(bip::open_only, name, bip::read_write);
            bip::mapped_region r(shm, bip::read_write);
            for (std::size_t i = 0; i < r.get_size(); i += page)
                (void)static_cast<volatile char *>(r.get_address())[i];
        }
    } catch (const std::exception &e) {
        fail("open", e);
    }
}

extern "C" void bip_sync_setup(const char *prefix)
{
    mutex_name = std::string(prefix) + "mutex";
    sem_name = std::string(prefix) + "sem";
    try {
        bip::named_mutex::remove(mutex_name.c_str());
        bip::named_semaphore::remove(sem_name.c_str());
        mtx.reset(new bip::named_mutex(bip::create_only, mutex_name.c_str()));
        sem.reset(new bip::named_semaphore(bip::create_only, sem_name.c_str(), 0));
    } catch (const std::exception &e) {
        fail("sync setup", e);
    }
}

extern "C" double bip_mutex(unsigned n)
{
    for (unsigned i = 0; i < 64; i++) {
        mtx->lock();
        mtx->unlock();
    }
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < n; i++) {
        mtx->lock();
        mtx->unlock();
    }
    return double(now_ns() - t0) / n;
}

extern "C" double bip_sem(unsigned n)
{
    for (unsigned i = 0; i < 64; i++) {
        sem->post();
        sem->wait();
    }
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < n; i++) {
        sem->post();
        sem->wait();
    }
    return double(now_ns() - t0) / n;
}

extern "C" void bip_sync_teardown(void)
{
    mtx.reset();
    sem.reset();
    bip::named_mutex::remove(mutex_name.c_str());
    bip::named_semaphore::remove(sem_name.c_str());
}

extern "C" int bip_killed_holder(const char *name, unsigned ms, char *err, size_t errlen)
{
    int result = -1;
    try {
        bip::named_mutex::remove(name);
        bip::named_mutex m(bip::create_only, name);
        int fds[2];
        if (pipe(fds) != 0) {
            std::snprintf(err, errlen, "pipe failed");
            return -1;
        }
        pid_t pid = fork();
        if (pid == 0) {
            bip::named_mutex held(bip::open_only, name);
            held.lock();
            char c = 1;
            if (write(fds[1], &c, 1) != 1)
                _exit(1);
            pause();
            _exit(0);
        }
        char c = 0;
        bool locked = pid > 0 && read(fds[0], &c, 1) == 1;
        if (pid > 0) {
            kill(pid, SIGKILL);
            // The caller may have a SIGCHLD handler without SA_RESTART.
            while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
            }
        }
        close(fds[0]);
        close(fds[1]);
        if (!locked) {
            std::snprintf(err, errlen, "the holder process did not lock the mutex");
        } else {
            auto until = boost::posix_time::microsec_clock::universal_time() + boost::posix_time::milliseconds(ms);
            result = m.timed_lock(until) ? 1 : 0;
            if (result == 1)
                m.unlock();
        }
    } catch (const std::exception &e) {
        std::snprintf(err, errlen, "%s", e.what());
        result = -1;
    }
    bip::named_mutex::remove(name);
    return result;
}
