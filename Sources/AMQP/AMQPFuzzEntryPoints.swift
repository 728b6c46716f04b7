import NIOCore

/// Entry points for the libFuzzer target in `Fuzz/` and the fuzz regression tests. They run the real decoders
/// and trap (`precondition`) when a result breaks an invariant. Not for production use.
public enum AMQPFuzzEntryPoints {
    /// A broker byte stream: the first byte picks the chunk size (1-256) the rest is fed in. Frames must re-encode
    /// to exactly the bytes they were read from; every method and content header that decodes must re-encode to
    /// bytes that decode to an equal value. The same stream also goes through a consumer state machine past its
    /// handshake, which must not trap whatever the bytes.
    public static func _frames(_ input: UnsafeRawBufferPointer) {
        guard let first = input.first else { return }
        let stream = UnsafeRawBufferPointer(rebasing: input.dropFirst())
        let chunkSize = Int(first) + 1
        let allocator = ByteBufferAllocator()
        var decoder = AMQPFrameDecoder(maxPayloadBytes: 4096)
        var reencoded = allocator.buffer(capacity: stream.count)
        var machine = AMQPConsumerStateMachine(settings: AMQPConsumerSettings(url: AMQPURL(host: "127.0.0.1"), queue: "q"))
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        _ = machine.start(now: now)
        _ = machine.transportOpened(now: now)
        var offset = 0
        feeding: while offset < stream.count {
            let end = min(offset + chunkSize, stream.count)
            var chunk = allocator.buffer(capacity: end - offset)
            chunk.writeBytes(UnsafeRawBufferPointer(rebasing: stream[offset..<end]))
            offset = end
            _ = machine.bytesReceived(chunk, now: now)
            decoder.append(chunk)
            while true {
                let frame: AMQPFrame?
                do {
                    frame = try decoder.next()
                } catch {
                    break feeding
                }
                guard let frame else { break }
                frame.encode(into: &reencoded)
                roundTrip(frame, allocator: allocator)
            }
        }
        let consumed = reencoded.readableBytes
        precondition(consumed <= stream.count && reencoded.readableBytesView.elementsEqual(stream.prefix(consumed)), "frames do not re-encode to the stream")
        _ = machine.tick(now: now + .seconds(120))
        _ = machine.stop(now: now + .seconds(121))
    }

    private static func roundTrip(_ frame: AMQPFrame, allocator: ByteBufferAllocator) {
        switch frame.kind {
        case .method:
            guard let method = try? AMQPMethod.decode(frame.payload) else { return }
            if case .unsupported = method { return }
            var bytes = allocator.buffer(capacity: frame.payload.readableBytes + 8)
            method.encode(channel: frame.channel, into: &bytes)
            var again = AMQPFrameDecoder(maxPayloadBytes: 1 << 20)
            again.append(bytes)
            guard let reframed = try? again.next(), let decoded = try? AMQPMethod.decode(reframed.payload) else {
                preconditionFailure("a decoded method does not re-encode to a readable frame: \(method)")
            }
            precondition(decoded == method, "method changed in a round trip: \(method) -> \(decoded)")
        case .header:
            guard let header = try? AMQPContentHeader.decode(frame.payload) else { return }
            var bytes = allocator.buffer(capacity: frame.payload.readableBytes + 8)
            header.encode(channel: frame.channel, into: &bytes)
            var again = AMQPFrameDecoder(maxPayloadBytes: 1 << 20)
            again.append(bytes)
            guard let reframed = try? again.next(), let decoded = try? AMQPContentHeader.decode(reframed.payload) else {
                preconditionFailure("a decoded content header does not re-encode")
            }
            precondition(decoded == header, "content header changed in a round trip")
        case .body, .heartbeat:
            return
        }
    }
}
