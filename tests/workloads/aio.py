# aio.py: python3 asyncio: a producer and a consumer task over an
# asyncio.Queue, paced by asyncio.sleep, and a thread waking the loop with
# call_soon_threadsafe (which writes to the loop's self-pipe socketpair).
# Prints a deterministic sequence for about 2.5 s.
import asyncio
import threading
import time


async def producer(q, n):
    for i in range(n):
        await asyncio.sleep(0.03)
        await q.put(i)
    await q.put(None)


async def consumer(q):
    total = 0
    while True:
        item = await q.get()
        if item is None:
            return total
        total += item * item
        print("got %d total %d" % (item, total), flush=True)


async def main():
    loop = asyncio.get_running_loop()
    woken = []

    def poke():
        for i in range(40):
            time.sleep(0.05)
            loop.call_soon_threadsafe(woken.append, i)

    t = threading.Thread(target=poke)
    t.start()
    q = asyncio.Queue()
    _, total = await asyncio.gather(producer(q, 70), consumer(q))
    await loop.run_in_executor(None, t.join)
    print("done: total %d, woken %d times, in order: %s" %
          (total, len(woken), woken == list(range(40))))


asyncio.run(main())
