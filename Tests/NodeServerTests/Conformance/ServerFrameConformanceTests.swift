import NIOCore
import Testing

@testable import NodeServer

/// What the server writes (RFC 6455 5.2): FIN frames, no mask, no RSV bits, the shortest length form, and
/// close reasons that stay valid UTF-8 within 123 bytes.
@Suite struct ServerFrameConformanceTests {
    @Test(arguments: [0, 1, 125, 126, 127, 65535, 65536, 65537])
    func textFramesUseTheRightLengthForm(_ length: Int) throws {
        let payload = [UInt8](repeating: 0x61, count: length)
        let buffer = WebSocketFrameBytes.text(payload, allocator: ByteBufferAllocator())
        let bytes = Array(buffer.readableBytesView)
        let (frame, used) = try #require(RawSocket.parseFrame(bytes))
        #expect(used == bytes.count)
        #expect(frame == RawSocket.Frame(fin: true, rsv: 0, opcode: 1, masked: false, payload: payload))
        let headerSize = length < 126 ? 2 : length <= 65535 ? 4 : 10
        #expect(bytes.count == headerSize + length, "not the shortest length form")
    }

    @Test func controlFramesEchoTheirPayload() throws {
        let payload = ByteBuffer(bytes: (0..<125).map { UInt8($0) })
        let frames: [(UInt8, ByteBuffer)] = [
            (0xA, WebSocketFrameBytes.pong(payload, allocator: .init())),
            (0x9, WebSocketFrameBytes.ping(payload, allocator: .init())),
        ]
        for (opcode, buffer) in frames {
            let (frame, _) = try #require(RawSocket.parseFrame(Array(buffer.readableBytesView)))
            #expect(frame == RawSocket.Frame(fin: true, rsv: 0, opcode: opcode, masked: false, payload: Array(payload.readableBytesView)))
        }
    }

    /// A long reason is cut to 123 bytes at a character boundary, never inside a UTF-8 sequence.
    @Test(arguments: ["é", "€", "🚀", "a"])
    func longCloseReasonsStayValidUTF8(_ character: String) throws {
        for prefix in 0..<4 {
            let reason = String(repeating: "x", count: prefix) + String(repeating: character, count: 130)
            let buffer = WebSocketFrameBytes.close(code: 1001, reason: reason, allocator: ByteBufferAllocator())
            let (frame, _) = try #require(RawSocket.parseFrame(Array(buffer.readableBytesView)))
            #expect(frame.closeCode == 1001)
            #expect(frame.payload.count <= 125 && frame.payload.count >= 122)
            let reasonBytes = Array(frame.payload.dropFirst(2))
            #expect(UTF8Validation.isValid(reasonBytes), "reason cut inside a character: \(reasonBytes.suffix(4))")
            #expect(reason.utf8.starts(with: reasonBytes))
        }
    }
}
