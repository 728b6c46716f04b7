import NIOCore
import NIOWebSocket
import RocketWSClient
import RocketWSTestKit
import Testing

/// The clients against the real `rocketws-node` binary (see ``NodeProcess``).
@Suite struct ClientTests {
    @Test func receivesTwentyThousandMessages() async throws {
        try await NodeProcess.with(name: "burst") { node in
            let ws = try await WebSocketClient.connect(url: node.wsURL)
            try await ws.subscribe("burst")
            let backend = node.messagesSource()
            let count = 20_000
            let batch = 1_000
            // One backend connection sends batches of emit notifications (one emitter: order is kept) while
            // the client makes calls: every answer must be told apart from the pushes, and no push lost.
            async let published: Void = {
                for start in stride(from: 0, to: count, by: batch) {
                    let calls = (start..<start + batch).map { index in
                        #"{"jsonrpc":"2.0","method":"emit","params":{"channel":"burst","data":{"seq":"#
                            + String(index) + "}}}"
                    }
                    let response = try await backend.postRaw(body: "[" + calls.joined(separator: ",") + "]")
                    #expect(response.status == 204, "\(response.text)")
                }
            }()
            for _ in 0..<20 { #expect(try await ws.call(method: "heartbeat") == ["heartbeat": "ok"]) }
            try await published
            #expect(try await ws.call(method: "heartbeat") == ["heartbeat": "ok"])
            for index in 0..<count {
                let message = try #require(try await ws.nextMessage(timeout: .seconds(30)), "message \(index)")
                #expect(message["seq"]?.intValue == index)
                #expect(message["__channel"] == "burst")
            }
            // Nothing more: the node reports exactly `count` messages accepted and written.
            #expect(try await node.metric("rocketws_messages_in_total") == Double(count))
            #expect(try await node.metric("rocketws_messages_out_total") == Double(count))
            try await ws.close()
            try await backend.close()
        }
    }

    @Test func emitsFromSeveralConnectionsArrive() async throws {
        try await NodeProcess.with(name: "bulk") { node in
            let ws = try await WebSocketClient.connect(url: node.wsURL)
            try await ws.subscribe("bulk")
            let count = 2_000
            let publishers = 4
            try await withThrowingTaskGroup(of: Void.self) { group in
                for publisher in 0..<publishers {
                    group.addTask {
                        let client = node.messagesSource()
                        for index in stride(from: publisher, to: count, by: publishers) {
                            try await client.notify(
                                method: "emit",
                                params: ["channel": "bulk", "data": ["i": .int(index)]]
                            )
                        }
                        try await client.close()
                    }
                }
                try await group.waitForAll()
            }
            var seen = Set<Int>()
            var last = [Int](repeating: -1, count: publishers)
            while seen.count < count {
                let message = try #require(try await ws.nextMessage(timeout: .seconds(30)), "after \(seen.count)")
                let index = try #require(message["i"]?.intValue)
                #expect(seen.insert(index).inserted, "duplicate \(index)")
                // Each publisher's messages arrive in the order it emitted them.
                #expect(index > last[index % publishers], "\(index) after \(last[index % publishers])")
                last[index % publishers] = index
            }
            #expect(seen.count == count)
            try await ws.close()
        }
    }

    @Test func clientPingsDoNotDisturbTheSession() async throws {
        try await NodeProcess.with(name: "pinged") { node in
            let ws = try await WebSocketClient.connect(url: node.wsURL)
            try await ws.subscribe("p")
            // The node answers pings with pongs; the client keeps them out of its messages and answers.
            for _ in 0..<3 {
                try await ws.sendRaw(
                    frame: WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer(string: "abcd"))
                )
            }
            #expect(try await ws.call(method: "heartbeat") == ["heartbeat": "ok"])
            let backend = node.messagesSource()
            #expect(try await backend.call(method: "emit", params: ["channel": "p", "data": ["x": 1]])["emitted"] == 1)
            #expect(try await ws.nextMessage(timeout: .seconds(20))?["x"] == 1)
            try await ws.close()
            try await backend.close()
        }
    }

    @Test func handshakeFailureCarriesStatus() async throws {
        let origin = "https://app.example"
        try await NodeProcess.with(name: "origins", arguments: ["--allowed-origins", origin]) { node in
            do {
                _ = try await WebSocketClient.connect(
                    host: "127.0.0.1",
                    port: node.wsPort,
                    path: "/elsewhere",
                    headers: [("Origin", origin)]
                )
                Issue.record("expected the handshake to fail")
            } catch let error as ClientError {
                #expect(error.status == 404)
            }
            do {
                _ = try await WebSocketClient.connect(url: node.wsURL, headers: [("Origin", "https://evil.example")])
                Issue.record("expected the handshake to fail")
            } catch let error as ClientError {
                #expect(error.status == 403)
            }
            let allowed = try await WebSocketClient.connect(url: node.wsURL, headers: [("Origin", origin)])
            #expect(try await allowed.call(method: "heartbeat") == ["heartbeat": "ok"])
            #expect(try await node.metric("rocketws_refused_upgrades_total") == 2)
            try await allowed.close()
        }
    }

    @Test func connectRefusedIsTyped() async throws {
        let port = freePort()
        await #expect(throws: ClientError.self) {
            _ = try await WebSocketClient.connect(host: "127.0.0.1", port: port)
        }
        let ms = MessagesSourceClient(host: "127.0.0.1", port: port)
        do {
            try await ms.call(method: "ping")
            Issue.record("expected a connection failure")
        } catch let error as ClientError {
            #expect(error.isConnectFailure)
        }
    }

    @Test func closeCodesBothWays() async throws {
        let node = try await NodeProcess.start(name: "closing")
        do {
            let backend = node.messagesSource()
            // The client closes: the node echoes the code and forgets the connection.
            let leaving = try await WebSocketClient.connect(url: node.wsURL)
            let staying = try await WebSocketClient.connect(url: node.wsURL)
            try await leaving.subscribe("c")
            try await staying.subscribe("c")
            try await leaving.close(code: .goingAway)
            var closes: [WebSocketErrorCode?] = []
            while let event = await leaving.nextEvent(timeout: .seconds(10)) {
                if case .close(let code, _) = event { closes.append(code) }
            }
            #expect(closes == [.goingAway])
            let forgotten = try await eventually {
                let status = try await backend.call(method: "cluster_status")
                return status["members"]?[0]?["connections"] == 1 && status["members"]?[0]?["subscriptions"] == 1
            }
            #expect(forgotten, "the node still counts the closed client")
            #expect(try await backend.call(method: "total_subscribers", params: ["channel": "c"])["total"] == 1)
            try await backend.close()

            // The node stops (SIGTERM): its clients are closed with 1001, going away.
            await node.terminate()
            var shutdown: [WebSocketErrorCode?] = []
            while let event = await staying.nextEvent(timeout: .seconds(10)) {
                if case .close(let code, _) = event { shutdown.append(code) }
            }
            #expect(shutdown == [.goingAway])
            #expect(node.process.terminationStatus == 0)
        } catch {
            Issue.record("node log: \(node.log)")
            await node.terminate()
            throw error
        }
    }

    @Test func messagesSourceRawRequests() async throws {
        try await NodeProcess.with(name: "keyed", apiKey: "k") { node in
            let ms = node.messagesSource()
            #expect(try await ms.call(method: "ping") == ["ping": "ok"])
            try await ms.notify(method: "ping")
            let bad = try await ms.postRaw(body: "{not json")
            #expect(bad.status == 200)
            #expect(try bad.json()["error"]?["code"] == -32700)
            #expect(try bad.json()["id"]?.isNull == true)
            do {
                try await ms.call(method: "nope")
                Issue.record("expected an error")
            } catch let error as JSONRPCError {
                #expect(error.code == -32601)
            }
            let metrics = try await ms.get(path: "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.text.contains("rocketws_connections"))

            let unauthorized = try MessagesSourceClient(url: node.msURL, apiKey: "wrong")
            do {
                try await unauthorized.call(method: "ping")
                Issue.record("expected 401")
            } catch let error as ClientError {
                #expect(error.status == 401)
            }
            let noKey = try await ms.postRaw(body: "{}", headers: [("Authorization", "Bearer nope")])
            #expect(noKey.status == 401)
            // Health needs no key; metrics do.
            let anonymous = try MessagesSourceClient(url: node.msURL)
            #expect(try await anonymous.get(path: "/healthz").status == 200)
            #expect(try await anonymous.get(path: "/metrics").status == 401)
            // The contract lists the 401s in /metrics.
            #expect(try await node.metric("rocketws_unauthorized_total") == 3)
            try await ms.close()
            try await unauthorized.close()
            try await anonymous.close()
        }
    }
}
