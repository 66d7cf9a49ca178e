// Own code (not upstream): a small driver around openSUSE kdump's C++
// kdumptool classes (SLE-15-SP5 and older): URLParser / RootDirURL
// (kdumptool/urlparser.cc, kdumptool/rootdirurl.cc) and Configuration /
// ShellConfigParser (kdumptool/configuration.cc, kdumptool/configparser.cc).
// hacking/record/kdump_conf_parsing.py compiles it with those sources,
// unchanged.
//
// usage: suse_kdumptool_driver url KDUMP_SAVEDIR [ROOTDIR]
//        suse_kdumptool_driver config SYSCONFIG_FILE [ROOTDIR]
// "url": KDUMP_SAVEDIR is split on whitespace as kdumptool's print_target
// and save_dump do (istringstream >> elem); every element goes through
// RootDirURL (URLParser, plus the canonical path below ROOTDIR for file
// URLs). "config": Configuration::readFile() on the file, then every option
// as NAME=valueAsString() (with " (default)" when isDefault()), then the
// "url" output for the resulting KDUMP_SAVEDIR.
#include <iostream>
#include <sstream>
#include <string>
#include <cstdlib>

#include "global.h"
#include "debug.h"
#include "configuration.h"
#include "rootdirurl.h"

static int print_urls(const std::string &savedir, const std::string &rootdir)
{
    std::istringstream iss(savedir);
    std::string elem;
    int rc = EXIT_SUCCESS;
    bool any = false;
    while (iss >> elem) {
        any = true;
        std::cout << "url\t" << elem << std::endl;
        try {
            RootDirURL u(elem, rootdir);
            std::cout << "protocol\t" << u.getProtocolAsString() << std::endl
                      << "username\t" << u.getUsername() << std::endl
                      << "password\t" << u.getPassword() << std::endl
                      << "hostname\t" << u.getHostname() << std::endl
                      << "port\t" << u.getPort() << std::endl
                      << "path\t" << u.getPath() << std::endl
                      << "realpath\t" << u.getRealPath() << std::endl;
        } catch (const std::exception &ex) {
            std::cout << "error\t" << ex.what() << std::endl;
            rc = EXIT_FAILURE;
        }
    }
    if (!any)
        std::cout << "(no URL)" << std::endl;
    return rc;
}

int main(int argc, char *argv[])
{
    if (argc < 3 || argc > 4) {
        std::cerr << "usage: " << argv[0] << " url|config ARG [ROOTDIR]" << std::endl;
        return 2;
    }
    std::string mode = argv[1];
    std::string rootdir = argc == 4 ? argv[3] : "";
    if (mode == "url")
        return print_urls(argv[2], rootdir);
    if (mode != "config") {
        std::cerr << "unknown mode " << mode << std::endl;
        return 2;
    }
    Configuration *config = Configuration::config();
    try {
        config->readFile(argv[2]);
    } catch (const std::exception &ex) {
        std::cout << "error\t" << ex.what() << std::endl;
        return EXIT_FAILURE;
    }
    for (ConfigOptionIterator it = config->optionsBegin();
         it != config->optionsEnd(); ++it) {
        std::cout << (*it)->name() << "=" << (*it)->valueAsString()
                  << ((*it)->isDefault() ? " (default)" : "") << std::endl;
    }
    return print_urls(config->KDUMP_SAVEDIR.value(), rootdir);
}
