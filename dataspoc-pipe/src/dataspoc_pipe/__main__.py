from dataspoc_pipe.cli import main

main()
