import ClusterKit
import NIOCore
import RocketWSTestKit
import Testing

@Suite struct MeshFrameDecoderTests {
    private func encoded(_ frames: [(UInt8, String)]) -> ByteBuffer {
        var buffer = ByteBuffer()
        for (kind, text) in frames { PeerFrame.encode(kind: kind, payload: ByteBuffer(string: text), into: &buffer) }
        return buffer
    }

    @Test func decodesWholeFrames() throws {
        var decoder = PeerFrameDecoder(maxPayloadBytes: 1024)
        decoder.append(encoded([(16, "one"), (17, ""), (200, "three")]))
        let frames = try [decoder.next(), decoder.next(), decoder.next()]
        #expect(frames.map { $0?.kind } == [16, 17, 200])
        #expect(frames.map { $0.map { String(buffer: $0.payload) } } == ["one", "", "three"])
        #expect(try decoder.next() == nil)
        #expect(decoder.bufferedBytes == 0)
    }

    @Test func decodesFramesSplitAtEveryByte() throws {
        let whole = encoded([(16, "hello"), (18, "world, longer payload"), (19, "x")])
        for split in 0...whole.readableBytes {
            var decoder = PeerFrameDecoder(maxPayloadBytes: 1024)
            var texts: [String] = []
            decoder.append(whole.getSlice(at: 0, length: split)!)
            while let f = try decoder.next() { texts.append(String(buffer: f.payload)) }
            decoder.append(whole.getSlice(at: split, length: whole.readableBytes - split)!)
            while let f = try decoder.next() { texts.append(String(buffer: f.payload)) }
            #expect(texts == ["hello", "world, longer payload", "x"], "split at \(split)")
        }
    }

    @Test func decodesOneByteChunks() throws {
        let whole = encoded((0..<50).map { (16, String(repeating: "z", count: $0)) })
        var decoder = PeerFrameDecoder(maxPayloadBytes: 1024)
        var count = 0
        for i in 0..<whole.readableBytes {
            decoder.append(whole.getSlice(at: i, length: 1)!)
            while let f = try decoder.next() {
                #expect(f.payload.readableBytes == count)
                count += 1
            }
        }
        #expect(count == 50)
    }

    @Test func rejectsOversizeFrameAndStaysFailed() {
        var decoder = PeerFrameDecoder(maxPayloadBytes: 10)
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt8(16))
        buffer.writeInteger(UInt32(11))
        decoder.append(buffer)
        #expect(throws: PeerFrameDecoderError.self) { try decoder.next() }
        #expect(throws: PeerFrameDecoderError.self) { try decoder.next() }
    }

    @Test func rejectsHugeLengthWithoutBuffering() {
        var decoder = PeerFrameDecoder(maxPayloadBytes: 16 << 20)
        decoder.append(ByteBuffer(bytes: [16, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3]))
        #expect(throws: PeerFrameDecoderError.self) { try decoder.next() }
    }

    @Test func survivesRandomGarbage() {
        var rng = SeededGenerator(seed: 42)
        for _ in 0..<2000 {
            var decoder = PeerFrameDecoder(maxPayloadBytes: Int(rng.next() % 300))
            let chunks = Int(rng.next() % 8) + 1
            outer: for _ in 0..<chunks {
                let length = Int(rng.next() % 64)
                decoder.append(ByteBuffer(bytes: (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
                do {
                    while let frame = try decoder.next() {
                        #expect(frame.payload.readableBytes <= decoder.maxPayloadBytes)
                    }
                } catch {
                    break outer
                }
            }
        }
    }
}
