import Foundation
import RocketWSClient
import RocketWSTestKit

/// Debian's `chromium` (installed by `make setup`) started headless as the unprivileged test user, driven over
/// its DevTools protocol with the project's own WebSocket client. One test task talks to it at a time.
final class HeadlessChromium: @unchecked Sendable {  // used by one test task
    static let executable = URL(fileURLWithPath: "/usr/bin/chromium")

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let process: Process
    private let profile: URL
    private let devtools: WebSocketClient
    private var nextID = 0

    private init(process: Process, profile: URL, devtools: WebSocketClient) {
        self.process = process
        self.profile = profile
        self.devtools = devtools
    }

    static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: executable.path) }

    /// Starts a browser with a fresh profile and connects to its DevTools endpoint.
    static func start() async throws -> HeadlessChromium {
        guard isInstalled else { throw Failure(description: "chromium is not installed: run `make setup`") }
        let profile = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("rocketws-chromium-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        let process = Process()
        UnprivilegedLaunch.configure(
            process, executable: executable,
            arguments: [
                // The unprivileged user has no user namespaces in a container: Chromium's sandbox cannot start.
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", "--mute-audio",
                "--user-data-dir=\(profile.path)/data", "--remote-debugging-port=0", "about:blank",
            ])
        process.environment = ["HOME": profile.path, "PATH": "/usr/bin:/bin"]
        let log = OutputLog()
        log.capture(process)
        try process.run()
        // Chromium writes its port and browser endpoint path into the profile once it listens.
        let portFile = profile.appendingPathComponent("data/DevToolsActivePort")
        var lines: [Substring] = []
        let found = await eventually(timeout: .seconds(30)) {
            lines = ((try? String(contentsOf: portFile, encoding: .utf8)) ?? "").split(separator: "\n")
            return lines.count >= 2 || !process.isRunning
        }
        guard found, lines.count >= 2, let port = Int(lines[0]) else {
            if process.isRunning { process.terminate() }
            throw Failure(description: "chromium did not open its DevTools port:\n\(log.text.suffix(2000))")
        }
        let devtools = try await WebSocketClient.connect(host: "127.0.0.1", port: port, path: String(lines[1]))
        return HeadlessChromium(process: process, profile: profile, devtools: devtools)
    }

    /// Test pages served over HTTP from the browser's profile folder (`python3 -m http.server`), on an origin
    /// of their own: a page imports the module from a node the way an application does.
    private var pageServer: Process?
    private var pagePort = 0

    /// The URL of a page holding `html`, served by a local HTTP server on another origin than the nodes.
    func serve(_ html: String, as name: String) async throws -> String {
        let folder = profile.appendingPathComponent("pages")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try html.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        if pageServer == nil {
            let port = freePorts(1)[0]
            let server = Process()
            // Debian's python3 itself (a wrapper such as pyenv's shim would leave the server behind at `terminate`).
            server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            server.arguments = ["-m", "http.server", "--bind", "127.0.0.1", "--directory", folder.path, String(port)]
            OutputLog().capture(server)
            try server.run()
            pageServer = server
            pagePort = port
            let up = await eventually(timeout: .seconds(10)) {
                (try? await CommandRun.run("/usr/bin/python3", ["-c", "import socket; socket.create_connection(('127.0.0.1', \(port)), 1)"]))?.status == 0
            }
            guard up else { throw Failure(description: "the page server did not start") }
        }
        return "http://127.0.0.1:\(pagePort)/\(name)"
    }

    /// Stops the browser and removes its profile.
    func stop() async {
        if let pageServer, pageServer.isRunning {
            // SIGKILL: the server inherits the test process's blocked signals, SIGTERM included.
            kill(pageServer.processIdentifier, SIGKILL)
            pageServer.waitUntilExit()
        }
        // Browser.close: the test process's blocked signals are inherited, so SIGTERM would not reach it.
        _ = try? await send("Browser.close")
        try? await devtools.close()
        _ = await eventually(timeout: .seconds(10)) { !self.process.isRunning }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: profile)
    }

    /// Opens `url` in a new tab and returns it once its document has loaded.
    func open(_ url: String) async throws -> Page {
        let target = try await send("Target.createTarget", ["url": .string("about:blank")])
        guard let targetID = target["targetId"]?.stringValue else { throw Failure(description: "no target: \(target)") }
        let attached = try await send("Target.attachToTarget", ["targetId": .string(targetID), "flatten": .bool(true)])
        guard let session = attached["sessionId"]?.stringValue else { throw Failure(description: "not attached: \(attached)") }
        let page = Page(browser: self, session: session)
        _ = try await send("Page.navigate", ["url": .string(url)], session: session)
        guard try await page.waitFor("document.readyState === 'complete' && location.href !== 'about:blank'") else {
            throw Failure(description: "\(url.prefix(120)) did not load")
        }
        return page
    }

    /// One DevTools command and its result (events that arrive in between are skipped).
    func send(_ method: String, _ params: [String: JSONValue] = [:], session: String? = nil) async throws -> JSONValue {
        nextID += 1
        let id = nextID
        var message: [String: JSONValue] = ["id": .int(id), "method": .string(method), "params": .object(params)]
        if let session { message["sessionId"] = .string(session) }
        try await devtools.send(json: .object(message))
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            guard case .text(let text)? = await devtools.nextEvent(timeout: deadline - ContinuousClock.now) else { break }
            let answer = try JSONValue(parsing: text)
            guard answer["id"]?.intValue == id else { continue }
            if let error = answer["error"] { throw Failure(description: "\(method): \(error)") }
            return answer["result"] ?? .null
        }
        throw Failure(description: "\(method): no answer from chromium")
    }

    /// A tab.
    struct Page {
        let browser: HeadlessChromium
        let session: String

        /// The value of JavaScript `expression` (awaited when it is a promise), as JSON.
        func evaluate(_ expression: String) async throws -> JSONValue {
            let result = try await browser.send(
                "Runtime.evaluate",
                ["expression": .string("(async () => JSON.stringify(await (\(expression))))()"), "awaitPromise": .bool(true), "returnByValue": .bool(true)],
                session: session)
            if let exception = result["exceptionDetails"] { throw Failure(description: "\(expression.prefix(80)): \(exception)") }
            guard let text = result["result"]?["value"]?.stringValue else { return .null }
            return try JSONValue(parsing: text)
        }

        /// Whether `condition` (JavaScript) becomes true within `timeout`.
        func waitFor(_ condition: String, timeout: Duration = .seconds(20)) async throws -> Bool {
            await eventually(timeout: timeout, every: .milliseconds(50)) {
                (try? await evaluate("Boolean(\(condition))")) == .bool(true)
            }
        }
    }
}
