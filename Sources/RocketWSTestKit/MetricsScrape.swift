import RocketWSClient

/// One `GET /metrics` answer (Prometheus text format) and what the tests read from it: the one metrics
/// scraper of the tests.
///
/// ```swift
/// let scrape = try await MetricsScrape.scrape(backend)
/// #expect(scrape.value("rocketws_messages_in_total") == 2)
/// #expect(scrape.value("rocketws_peers", #"state="alive""#) == 1)
/// ```
///
/// NOT FOR PUBLIC CONSUMPTION: a helper of this package's tests.
public struct MetricsScrape: Sendable, CustomStringConvertible {
    /// The text as the node sent it.
    public let text: String

    public init(text: String) { self.text = text }

    /// Scrapes `client`'s node.
    /// - Throws: ``MetricsScrapeError`` for an answer other than 200 (e.g. 401 without the API key).
    public static func scrape(_ client: MessagesSourceClient) async throws -> MetricsScrape {
        let response = try await client.get(path: "/metrics")
        guard response.status == 200 else { throw MetricsScrapeError(status: response.status, body: response.text) }
        return MetricsScrape(text: response.text)
    }

    /// The value of sample `name` with exactly `labels` as rendered (e.g. `peer="n2"`; nil: the sample
    /// without labels), or nil when the node does not list it.
    public func value(_ name: String, _ labels: String? = nil) -> Double? {
        let prefix = labels.map { "\(name){\($0)} " } ?? "\(name) "
        for line in text.split(separator: "\n") where line.hasPrefix(prefix) {
            return Double(line.dropFirst(prefix.count).split(separator: " ").first ?? "")
        }
        return nil
    }

    /// Whether the node declares metric `name` (its `# TYPE` line), whether or not it has a sample yet.
    public func declares(_ name: String) -> Bool {
        text.contains("# TYPE \(name) ")
    }

    public var description: String { text }
}

/// `GET /metrics` did not answer 200.
public struct MetricsScrapeError: Error, CustomStringConvertible {
    public var status: Int
    public var body: String
    public var description: String { "GET /metrics: \(status) \(body)" }
}
