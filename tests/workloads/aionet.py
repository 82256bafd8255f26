"""aionet.py PORT: an asyncio TCP server with its own clients, in the
patterns ZeroMQ programs use over tcp://127.0.0.1: request/reply (three
clients, each asking 200 times, 10 ms apart) on PORT, and a publisher
pushing 150 numbered messages 20 ms apart to three subscribers on PORT+1
(one over IPv6). Every answer and message is checked; the report is the
same whenever the job is frozen."""
import asyncio
import sys

PORT = int(sys.argv[1])


async def reply(reader, writer):
    while line := await reader.readline():
        writer.write(line.upper())
        await writer.drain()
    writer.close()


subscribers = []


async def subscribe(reader, writer):
    subscribers.append(writer)
    await reader.read()     # until the subscriber hangs up


async def publish(count):
    while len(subscribers) < 3:
        await asyncio.sleep(0.01)
    for i in range(count):
        for w in subscribers:
            w.write(b"msg %d\n" % i)
        await asyncio.gather(*(w.drain() for w in subscribers))
        await asyncio.sleep(0.02)
    for w in subscribers:
        w.write(b"end\n")
        w.close()


async def requester(name, count):
    reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
    ok = 0
    for i in range(count):
        writer.write(b"%s asks %d\n" % (name, i))
        await writer.drain()
        if await reader.readline() == (b"%s asks %d\n" % (name, i)).upper():
            ok += 1
        await asyncio.sleep(0.01)
    writer.close()
    return "%s: %d of %d answers right" % (name.decode(), ok, count)


async def subscriber(host):
    reader, writer = await asyncio.open_connection(host, PORT + 1)
    got, expect = 0, 0
    while (line := await reader.readline()) != b"end\n":
        got += line == b"msg %d\n" % expect
        expect += 1
    writer.close()
    return "subscriber on %s: %d of %d messages in order" % (host, got, expect)


async def main():
    rep = await asyncio.start_server(reply, "127.0.0.1", PORT)
    pub4 = await asyncio.start_server(subscribe, "127.0.0.1", PORT + 1)
    pub6 = await asyncio.start_server(subscribe, "::1", PORT + 1)
    results = await asyncio.gather(
        requester(b"alpha", 200), requester(b"beta", 200), requester(b"gamma", 200),
        subscriber("127.0.0.1"), subscriber("127.0.0.1"), subscriber("::1"), publish(150))
    for r in results[:-1]:
        print(r)
    for s in (rep, pub4, pub6):
        s.close()
        await s.wait_closed()


asyncio.run(main())
