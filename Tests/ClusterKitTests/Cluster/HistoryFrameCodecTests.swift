import NIOCore
import Testing

@testable import ClusterKit

/// Every history frame survives encoding and decoding; truncated and padded payloads are refused.
@Suite("History frame codec")
struct HistoryFrameCodecTests {
    private static func entry(_ offset: UInt64, _ text: String = #"{"k":1}"#) -> History.Entry<ByteBuffer> {
        History.Entry(offset: offset, timestamp: 1_764_684_000, key: .init(origin: "n1#42", id: offset * 7), data: ByteBuffer(string: text), bytes: text.utf8.count)
    }

    static let messages: [History.Message<ByteBuffer>] = [
        .append(requestID: 9, channel: "chat", entry: entry(0)),
        .appended(requestID: 9, result: History.Appended(epoch: "n1-42-1", offset: 5, counts: [NodeCount(node: "n2", count: 3)])),
        .appended(requestID: 9, result: nil),
        .copy(channel: "chat", epoch: "n1-42-1", lease: 3, entry: entry(5)),
        .copyAck(channel: "chat", epoch: "n1-42-1", lease: 3, offset: 5, verdict: .fenced),
        .sync(channel: "chat", snapshot: History.Snapshot(epoch: "n1-42-1", lease: 4, released: 5, base: 3, entries: [entry(4), entry(5), entry(6)]), transfer: true),
        .syncAck(channel: "chat", epoch: "n1-42-1", lease: 4, accepted: false),
        .claim(channel: "chat"),
        .claimAnswer(channel: "chat", hasCopy: true, holds: false),
        .read(requestID: 11, channel: "chat", after: 3, limit: nil),
        .read(requestID: 12, channel: "chat", after: nil, limit: 10),
        .readResult(requestID: 11, range: History.Range(epoch: "n1-42-1", top: 6, firstKept: 4, entries: [entry(4), entry(5), entry(6)])),
        .readResult(requestID: 11, range: nil),
        .push(requestID: 13, channel: "chat", epoch: "n1-42-1", entry: entry(6, #"{"text":"hé"}"#)),
    ]

    @Test("every frame round-trips, with kinds in 32...47", arguments: messages.indices)
    func roundTrip(index: Int) throws {
        let message = Self.messages[index]
        let (kind, payload) = ClusterFrame.encode(.history(message), allocator: ByteBufferAllocator())
        #expect((32...47).contains(kind))
        guard case .history(let decoded)? = ClusterFrame.decode(kind: kind, payload: payload, from: "n1") else {
            Issue.record("frame \(index) did not decode")
            return
        }
        let (kindAgain, again) = ClusterFrame.encode(.history(decoded), allocator: ByteBufferAllocator())
        #expect(kindAgain == kind && again == payload)
        // Cut short or padded, it is malformed.
        #expect(ClusterFrame.decode(kind: kind, payload: payload.getSlice(at: payload.readerIndex, length: payload.readableBytes - 1)!, from: "n1") == nil)
        var padded = payload
        padded.writeInteger(UInt8(0))
        #expect(ClusterFrame.decode(kind: kind, payload: padded, from: "n1") == nil)
    }
}
