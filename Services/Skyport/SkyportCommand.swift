import ArgumentParser

/// `skyport`, the command-line tool for people working on Skyport.
@main
struct SkyportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skyport", abstract: "Work with a local Skyport suite.", subcommands: [DevCACommand.self])
}
