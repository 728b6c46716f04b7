/// Polls `condition` every `interval` until it holds or `timeout` passes (a deadline, never a fixed sleep in an
/// assertion), and looks once more after the deadline (a starved test task may wake up late). Returns whether it
/// held; use it as `#expect(await eventually { ... }, "what")` or `try #require(await eventually { ... })`.
///
/// NOT FOR PUBLIC CONSUMPTION: a helper of this package's tests (the only `eventually` they use).
public func eventually(
    timeout: Duration = .seconds(20),
    every interval: Duration = .milliseconds(20),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}
