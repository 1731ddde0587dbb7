from kxbtc.cli import main

main()
