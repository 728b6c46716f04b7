import AMQP
import Foundation
import Testing

/// A replay of the committed corpus of the AMQP frame fuzzer (Fuzz/Corpus/FuzzAMQPFrame) through its entry
/// point: the decoders' invariants hold and the state machine does not trap on any of it.
@Suite struct AMQPFuzzRegressionTests {
    @Test func committedCorpusReplays() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = root.appendingPathComponent("Fuzz/Corpus/FuzzAMQPFrame")
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
        #expect(files.count >= 7)
        for file in files {
            Array(try Data(contentsOf: file)).withUnsafeBytes { AMQPFuzzEntryPoints._frames($0) }
        }
    }
}
