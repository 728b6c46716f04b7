import ClusterKit
import Testing

@Suite struct MeshBenchmarkSmokeTests {
    /// The entry point `rocketws-admin bench --mesh` calls works end to end (no speed assertion).
    @Test func benchmarkRunsToCompletion() async throws {
        let result = try await MeshBenchmark.run(frames: 20_000, size: 100, ackEvery: 1000)
        #expect(result.frames == 20_000)
        #expect(result.framesPerSecond > 0 && result.megabytesPerSecond > 0)
        #expect(result.cpuNanosPerFrame > 0)
    }
}
