import AMQP
import NIOCore
import Testing

@Suite("AMQP URL and reconnect backoff")
struct URLAndBackoffTests {
    @Test("amqp URLs parse as RabbitMQ documents them")
    func urls() throws {
        #expect(try AMQPURL(parsing: "amqp://user:pa%40ss@broker:5673/prod") == AMQPURL(host: "broker", port: 5673, user: "user", password: "pa@ss", virtualHost: "prod"))
        #expect(try AMQPURL(parsing: "amqp://localhost") == AMQPURL(host: "localhost"))
        #expect(try AMQPURL(parsing: "amqp://u:p@127.0.0.1/") == AMQPURL(host: "127.0.0.1", user: "u", password: "p", virtualHost: "/"))
        #expect(try AMQPURL(parsing: "amqp://u:p@h:1/%2F").virtualHost == "/")
        #expect(try AMQPURL(parsing: "amqp://u:p@h:1/a%2Fb").virtualHost == "a/b")
        #expect(try AMQPURL(parsing: "AMQP://[::1]:5672/v") == AMQPURL(host: "::1", virtualHost: "v"))
        #expect(try AMQPURL(parsing: "amqp://u:p@h/v?heartbeat=10").virtualHost == "v")
        #expect(try AMQPURL(parsing: "amqp://u:secret@h:5672/a%2Fb").description == "amqp://u@h:5672/a%2Fb")
        for bad in ["http://h", "amqps://h", "amqp://", "amqp://h:0", "amqp://h:x", "h:5672", "amqp://u:p@h/%zz", "amqp://[::1"] {
            #expect(throws: AMQPURL.ParseError.self, "\(bad)") { try AMQPURL(parsing: bad) }
        }
    }

    @Test("backoff grows, is jittered within its upper half, is capped, and resets")
    func backoff() {
        var backoff = AMQPBackoff(initial: .milliseconds(250), maximum: .seconds(5), seed: 7)
        var delays: [Int64] = []
        for _ in 0..<12 { delays.append(backoff.next().nanoseconds) }
        var ceiling: Int64 = 250_000_000
        for delay in delays {
            #expect(delay >= ceiling / 2 && delay <= ceiling)
            ceiling = min(5_000_000_000, ceiling * 2)
        }
        #expect(delays.suffix(4).allSatisfy { $0 >= 2_500_000_000 && $0 <= 5_000_000_000 })
        #expect(Set(delays.suffix(6)).count > 1)  // jittered, not one fixed value
        backoff.reset()
        #expect(backoff.next().nanoseconds <= 250_000_000)
        var other = AMQPBackoff(initial: .milliseconds(250), maximum: .seconds(5), seed: 8)
        var again = AMQPBackoff(initial: .milliseconds(250), maximum: .seconds(5), seed: 7)
        #expect(other.next() != again.next() || other.next() != again.next())
    }
}
