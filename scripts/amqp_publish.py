#!/usr/bin/env python3
"""Publishes to the RocketWS RabbitMQ source's queue with pika (an independent AMQP client), for the tests
and the benchmark. Declares the queue as the node does (durable, x-message-ttl) so either may come first.

  amqp_publish.py --port P --queue Q emit --channel C --count N [--start S] [--batch B]
      N emit notifications (persistent) whose data is {"seq": i}, i = S .. S+N-1; with --batch B, bodies
      are JSON-RPC batches of B emits each (N counts emits)
  amqp_publish.py --port P --queue Q raw BODY      one message with this body, as given
  amqp_publish.py --port P --queue Q ready         prints the number of ready messages (passive declare)
"""
import argparse
import json
import sys

import pika


def connect(args):
    params = pika.ConnectionParameters(host="127.0.0.1", port=args.port, virtual_host="/",
                                       credentials=pika.PlainCredentials("guest", "guest"),
                                       connection_attempts=3, retry_delay=1, heartbeat=30)
    connection = pika.BlockingConnection(params)
    channel = connection.channel()
    arguments = {"x-message-ttl": args.ttl_s * 1000} if args.ttl_s > 0 else None
    channel.queue_declare(queue=args.queue, durable=True, arguments=arguments)
    return connection, channel


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--queue", default="rocketws")
    parser.add_argument("--ttl-s", type=int, default=3600)
    sub = parser.add_subparsers(dest="command", required=True)
    emit = sub.add_parser("emit")
    emit.add_argument("--channel", required=True)
    emit.add_argument("--count", type=int, required=True)
    emit.add_argument("--start", type=int, default=0)
    emit.add_argument("--batch", type=int, default=1)
    raw = sub.add_parser("raw")
    raw.add_argument("body")
    sub.add_parser("ready")
    args = parser.parse_args()

    connection, channel = connect(args)
    persistent = pika.BasicProperties(delivery_mode=2, content_type="application/json")
    if args.command == "emit":
        def request(i):
            return {"jsonrpc": "2.0", "method": "emit", "params": {"channel": args.channel, "data": {"seq": i}}}
        i = args.start
        end = args.start + args.count
        while i < end:
            if args.batch > 1:
                body = json.dumps([request(k) for k in range(i, min(end, i + args.batch))])
                i = min(end, i + args.batch)
            else:
                body = json.dumps(request(i))
                i += 1
            channel.basic_publish(exchange="", routing_key=args.queue, body=body.encode(), properties=persistent)
    elif args.command == "raw":
        channel.basic_publish(exchange="", routing_key=args.queue, body=args.body.encode(), properties=persistent)
    elif args.command == "ready":
        ok = channel.queue_declare(queue=args.queue, passive=True)
        print(ok.method.message_count)
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
