import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import NodeServer

/// Inputs the JSON-RPC fuzzer (Fuzz/Sources/FuzzJSONRPC) crashed on, run through the same entry point, and a
/// replay of the committed corpus (Fuzz/Corpus/FuzzJSONRPC).
@Suite struct JSONRPCFuzzRegressionTests {
    private func run(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { FuzzEntryPoints._jsonRPC($0) }
    }

    @Test func committedCorpusReplays() throws {
        let files = try corpusFiles("FuzzJSONRPC")
        #expect(!files.isEmpty)
        for file in files { run(Array(try Data(contentsOf: file))) }
    }
}

/// Inputs the WebSocket request-path fuzzer (Fuzz/Sources/FuzzWebSocket) crashed on, driven exactly as the
/// fuzz target drives them, and a replay of the committed corpus (Fuzz/Corpus/FuzzWebSocket).
@Suite struct WebSocketFuzzRegressionTests {
    /// What the fuzz target does with one input; returns the bytes the session wrote.
    @discardableResult
    private func run(_ bytes: [UInt8]) throws -> [UInt8] {
        let channel = EmbeddedChannel()
        try bytes.withUnsafeBytes { try FuzzEntryPoints._webSocketRequestPath($0, on: channel) }
        channel.embeddedEventLoop.run()
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        var written: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { written += buffer.readableBytesView }
        _ = try? channel.finish()
        return written
    }

    @Test func committedCorpusReplays() throws {
        let files = try corpusFiles("FuzzWebSocket")
        #expect(!files.isEmpty)
        for file in files { try run(Array(try Data(contentsOf: file))) }
    }

    @Test func answersAMaskedRequest() throws {
        let request = Array(#"{"jsonrpc":"2.0","method":"heartbeat","id":1}"#.utf8)
        let written = try run([0x81, 0x80 | UInt8(request.count), 0, 0, 0, 0] + request)
        let answer = Array(#"{"jsonrpc":"2.0","result":{"heartbeat":"ok"},"id":1}"#.utf8)
        #expect(written == [0x81, UInt8(answer.count)] + answer)
    }
}

/// The files of `Fuzz/Corpus/<target>/` in this checkout.
func corpusFiles(_ target: String) throws -> [URL] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let directory = root.appendingPathComponent("Fuzz/Corpus/\(target)")
    return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil).sorted { $0.path < $1.path }
}
