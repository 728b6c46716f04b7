import Foundation
import NIOCore
import Testing

@testable import ClusterKit

/// Inputs the peer-frame fuzzer (Fuzz/Sources/FuzzPeerFrame) crashed on, run through the same entry point,
/// and a replay of the committed corpus (Fuzz/Corpus/FuzzPeerFrame).
@Suite struct PeerFrameFuzzRegressionTests {
    private func run(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { FuzzEntryPoints._peerFrames($0) }
    }

    @Test func committedCorpusReplays() throws {
        let files = try corpusFiles("FuzzPeerFrame")
        #expect(!files.isEmpty)
        for file in files { run(Array(try Data(contentsOf: file))) }
    }
}

/// The files of `Fuzz/Corpus/<target>/` in this checkout.
func corpusFiles(_ target: String) throws -> [URL] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let directory = root.appendingPathComponent("Fuzz/Corpus/\(target)")
    return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil).sorted { $0.path < $1.path }
}
