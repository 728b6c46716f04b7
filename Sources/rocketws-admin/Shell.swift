import ArgumentParser
import RocketWSClient

extension RocketWSAdmin {
    struct Shell: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Interactive console emulating a backend (help, emit, notify_all, total_subscribers, ...).",
            discussion: """
                Reads commands line by line from stdin, so it can be scripted:
                  printf 'emit chat {"a":1}\\nexit\\n' | rocketws-admin shell
                Failed commands print one line on stderr; when stdin is not a terminal the exit \
                status is 1 if any command failed.
                """
        )

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let interactive = Console.stdinIsTerminal
            let global = self.global
            // Questions end the line when stdin is a script, so that every answer the node gives is a line of its own.
            let prompter = ShellPrompter(
                ask: { prompt in
                    print(prompt, terminator: interactive ? "" : "\n")
                    Console.flush()
                    return readLine()
                },
                say: { print($0) }
            )
            var session = try ShellSession(nodeURL: global.nodeURL, prompter: prompter) { url in try global.makeClient(url: url) }
            if interactive {
                print("RocketWS shell on \(global.nodeURL). Type help for commands, exit to leave.")
            }
            var failed = false
            while true {
                if interactive {
                    print("rocketws> ", terminator: "")
                    Console.flush()
                }
                guard let line = readLine() else {
                    if interactive { print("") }
                    break
                }
                let outcome = await session.execute(line)
                switch outcome {
                case .output(let text): print(text)
                case .failure(let text):
                    failed = true
                    Console.error("error: \(text)")
                case .exit:
                    await session.close()
                    if failed && !interactive { throw ExitCode.failure }
                    return
                case .nothing: break
                }
                Console.flush()
            }
            await session.close()
            if failed && !interactive { throw ExitCode.failure }
        }
    }
}
